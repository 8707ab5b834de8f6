// 至急支援の依頼をデスクに知らせる（issue 13）: the dashboard's refresh hands its data over in an
// "outages:live" event; a needs_help row is highlighted, a new request raises the banner, prefixes the
// tab title and plays a short sound unless the desk muted it (the choice is kept in this browser).
(function () {
  "use strict";
  const MUTE_KEY = "bcp.outages.urgentMuted";
  const banner = document.getElementById("urgent");
  const text = document.getElementById("urgent-text");
  const ack = document.getElementById("urgent-ack");
  const muteBtn = document.getElementById("urgent-mute");
  if (!banner || !muteBtn) return;
  const baseTitle = document.title;
  let seen = null;          // requests already on screen ("patient@requested_at"); null until the first refresh
  let muted = false;
  try { muted = window.localStorage.getItem(MUTE_KEY) === "1"; } catch (e) { /* private mode */ }
  let audio = null;

  function showMute() {
    muteBtn.textContent = muted ? "音を出す（いまは消音）" : "音を消す";
    muteBtn.setAttribute("aria-pressed", muted ? "true" : "false");
    document.body.dataset.urgentMuted = muted ? "1" : "0";
  }

  function chime() {
    if (muted) return false;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const t0 = audio.currentTime;
      [0, 0.35, 0.7].forEach(function (dt) {
        const osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = 880; osc.connect(gain); gain.connect(audio.destination);
        gain.gain.setValueAtTime(0.25, t0 + dt); gain.gain.exponentialRampToValueAtTime(0.001, t0 + dt + 0.3);
        osc.start(t0 + dt); osc.stop(t0 + dt + 0.3);
      });
      return true;
    } catch (e) { return false; }
  }

  function hhmm(iso) {
    return iso ? new Date(iso).toLocaleTimeString("ja-JP", {timeZone: "Asia/Tokyo", hour: "2-digit", minute: "2-digit"}) : "—";
  }

  muteBtn.addEventListener("click", function () {
    muted = !muted;
    try { window.localStorage.setItem(MUTE_KEY, muted ? "1" : "0"); } catch (e) { /* kept for this page only */ }
    showMute();
    if (!muted) chime();      // a click also lets the browser play sound later
  });
  ack.addEventListener("click", function () {
    banner.classList.remove("flash"); document.title = baseTitle;
    document.querySelectorAll("#triage tr.urgent-new").forEach(function (tr) { tr.classList.remove("urgent-new"); });
    document.body.dataset.urgentNew = "0";
  });

  document.addEventListener("outages:live", function (ev) {
    const urgent = (ev.detail.patients || []).filter(function (r) { return r.checkin === "needs_help"; });
    const keys = urgent.map(function (r) { return r.patient_id + "@" + (r.help_requested_at || ""); });
    const fresh = seen === null ? [] : keys.filter(function (k) { return !seen.has(k); });
    const freshIds = new Set(fresh.map(function (k) { return k.split("@")[0]; }));
    const ids = new Set(urgent.map(function (r) { return String(r.patient_id); }));
    document.querySelectorAll("#triage tbody tr").forEach(function (tr) {
      tr.classList.toggle("urgent", ids.has(tr.dataset.patientId));
      if (freshIds.has(tr.dataset.patientId)) tr.classList.add("urgent-new");
    });
    banner.hidden = urgent.length === 0;
    text.textContent = urgent.length
      ? "至急支援・搬送の依頼 " + urgent.length + " 件（最も古い依頼 " + hhmm(urgent[0].help_requested_at) + "）— 一覧の先頭です"
      : "";
    if (fresh.length) {
      banner.classList.add("flash");
      document.title = "【至急 " + fresh.length + "件】" + baseTitle;
      document.body.dataset.urgentNew = String(fresh.length);
      document.body.dataset.urgentChimed = chime() ? "1" : "0";
    }
    if (!urgent.length) { banner.classList.remove("flash"); document.title = baseTitle; }
    seen = new Set(keys);
  });
  showMute();
})();
