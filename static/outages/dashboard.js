(function () {
  const DATA = JSON.parse(document.getElementById("dashboard-data").textContent);
  const LIVE = DATA.live;
  const TRANSPORT_POST = DATA.transport_post;
  const CHECKIN = DATA.checkin;
  const TRANSPORT = DATA.transport;
  const TIER = {red: "赤", yellow: "黄", green: "緑"};
  const EVENT = DATA.event;
  const csrf = document.getElementById("csrf").innerHTML.trim();
  let skew = 0;   // server clock minus browser clock, so countdowns follow the server's time

  function el(tag, text, cls) { const e = document.createElement(tag); if (text != null) e.textContent = text; if (cls) e.className = cls; return e; }
  function telCell(r) {   // a number a person can tap to call, in the national format the server formatted
    const td = el("td"); if (!r.phone) return td;
    const a = el("a", r.phone_display || r.phone, "tel"); a.href = "tel:" + r.phone; td.append(a); return td;
  }
  function hhmm(iso) { if (!iso) return "—"; const d = new Date(iso); return d.toLocaleString("ja-JP", {timeZone: "Asia/Tokyo", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit"}); }
  function left(iso) {
    const ms = new Date(iso).getTime() - (Date.now() + skew);
    if (ms <= 0) return "尽きた可能性";
    const m = Math.floor(ms / 60000), h = Math.floor(m / 60);
    return h + "時間" + String(m % 60).padStart(2, "0") + "分";
  }
  function tick() { document.querySelectorAll("[data-runs-out]").forEach(e => { e.textContent = left(e.dataset.runsOut); }); }

  function cards(id, counts, labels, clsPrefix) {
    const box = document.getElementById(id); box.replaceChildren();
    Object.entries(counts).forEach(([k, n]) => {
      const c = el("div", null, "card" + (clsPrefix ? " " + clsPrefix + k : "")); c.dataset.key = k;
      c.append(el("span", labels[k] || k), el("b", String(n))); box.append(c);
    });
  }

  let charging = {};
  function triage(rows, transports) {
    const byId = Object.fromEntries(transports.map(t => [t.id, t]));
    const body = document.querySelector("#triage tbody"); body.replaceChildren();
    rows.forEach((r, i) => {
      const tr = el("tr", null, "tier-" + r.tier); tr.dataset.patientId = r.patient_id; tr.dataset.runsOutAt = r.runs_out_at;
      const cd = el("td", left(r.runs_out_at), "countdown"); cd.dataset.runsOut = r.runs_out_at;
      const t = r.transport_id ? byId[r.transport_id] : null;
      tr.append(el("td", String(i + 1)), el("td", TIER[r.tier] + (r.dependent_24h ? "・24h" : "")), cd,
        el("td", hhmm(r.runs_out_at) + (r.runs_out_source === "reported" ? "（家族申告）" : "")), el("td", r.name + (r.municipality_unknown ? "（市区町村不明）" : "")), el("td", r.address || ""), telCell(r),
        el("td", (CHECKIN[r.checkin] || r.checkin) + (r.answered_by ? "（回答: " + r.answered_by + "）" : "") + (r.reported_hours != null
            ? "（申告: 残り" + r.reported_hours + "時間・" + hhmm(r.reported_at) + "）" : "")),
        el("td", String(r.round) + (r.covered_by_outage_id ? "（他の停電で確認中 #" + r.covered_by_outage_id + "）" : "")),
        el("td", r.next_contact_at ? hhmm(r.next_contact_at) : "予定なし"),
        el("td", t ? (TRANSPORT[t.status] + (t.facility_name ? "→" + t.facility_name : "")
                      + (t.flag === "not_needed" ? "（不要の可能性・要確認）" : "")
                      + (t.status === "proposed" && charging[r.patient_id] ? " ／ または充電: " + charging[r.patient_id].map(c => c.name + "（" + c.distance_km + "km）").join("、") : ""))
                   : (charging[r.patient_id] ? "充電: " + charging[r.patient_id].map(c => c.name + "（" + c.distance_km + "km）").join("、") : "")));
      body.append(tr);
    });
  }

  function map(rows, facilities) {
    const pts = rows.filter(r => r.lat != null).map(r => [r.lat, r.lon]).concat(facilities.map(f => [f.lat, f.lon]));
    const box = document.getElementById("map");
    if (!pts.length) { box.textContent = "位置情報のある対象者がいません。"; return; }
    let [s, n, w, e] = [90, -90, 180, -180];
    pts.forEach(([a, b]) => { s = Math.min(s, a); n = Math.max(n, a); w = Math.min(w, b); e = Math.max(e, b); });
    const pad = 0.01, W = 720, H = 480, k = Math.cos((s + n) / 2 * Math.PI / 180);
    const sx = W / Math.max((e - w + 2 * pad) * k, 1e-6), sy = H / Math.max(n - s + 2 * pad, 1e-6), sc = Math.min(sx, sy);
    const X = lon => (lon - w + pad) * k * sc, Y = lat => (n + pad - lat) * sc;
    const NS = "http://www.w3.org/2000/svg", svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`); svg.setAttribute("role", "img"); svg.setAttribute("aria-label", "対象者と施設の地図");
    const color = {red: "#c00", yellow: "#d90", green: "#090"};
    facilities.forEach(f => { const r = document.createElementNS(NS, "rect");
      r.setAttribute("x", X(f.lon) - 5); r.setAttribute("y", Y(f.lat) - 5); r.setAttribute("width", 10); r.setAttribute("height", 10);
      r.setAttribute("fill", f.has_generator || f.power_supply_point ? "#06c" : "#999");
      const t = document.createElementNS(NS, "title"); t.textContent = f.name; r.append(t); svg.append(r); });
    rows.filter(r => r.lat != null).forEach(p => { const c = document.createElementNS(NS, "circle");
      c.setAttribute("cx", X(p.lon)); c.setAttribute("cy", Y(p.lat)); c.setAttribute("r", 4); c.setAttribute("fill", color[p.tier]);
      const t = document.createElementNS(NS, "title"); t.textContent = p.name + "（" + (CHECKIN[p.checkin] || p.checkin) + "）"; c.append(t); svg.append(c); });
    box.replaceChildren(svg);
  }

  function transportTable(items) {
    const body = document.querySelector("#transport-table tbody"); body.replaceChildren();
    items.forEach(t => {
      const tr = el("tr"); const form = el("form"); form.method = "post"; form.action = TRANSPORT_POST.replace(/0$/, String(t.id));
      const h = el("input"); h.type = "hidden"; h.name = "csrf_token"; h.value = csrf; form.append(h);
      const sel = el("select"); sel.name = "status";
      ["assigned", "en_route", "arrived", "cancelled"].forEach(s => { const o = el("option", TRANSPORT[s]); o.value = s; if (s === t.status) o.selected = true; sel.append(o); });
      form.append(sel, el("button", "変更"));
      tr.append(el("td", String(t.id)), el("td", t.patient_name), el("td", t.facility_name || (t.note || "未定")),
        el("td", t.distance_km != null ? t.distance_km + " km" : ""), el("td", t.transport_needs_label || "—"),
        el("td", TRANSPORT[t.status] + (t.desk_flag_label ? "（" + t.desk_flag_label + "）" : "") + (t.flag === "not_needed" ? "（不要の可能性・要確認）" : "")), el("td"));
      if (!["arrived", "cancelled"].includes(t.status)) tr.lastChild.append(form);
      body.append(tr);
    });
  }

  function tasks(items) {
    const body = document.querySelector("#task-table tbody"); body.replaceChildren();
    const KIND = {visit: "訪問", transport: "搬送"}, ST = {open: "未受諾", acknowledged: "受諾", done: "完了", cancelled: "取消", reassigned: "次のチームへ移動"};
    const WHY = {declined: "（辞退）", no_ack: "（期限切れ）"};
    items.forEach(t => { const tr = el("tr"); tr.dataset.taskId = t.id;
      tr.append(el("td", String(t.id) + (t.handoff_of_id ? "（#" + t.handoff_of_id + "から）" : "")), el("td", KIND[t.kind]), el("td", String(t.patient_id)),
        el("td", t.organization_id != null ? (t.organization_name || "#" + t.organization_id) : "なし（本部で手配）"),
        el("td", (ST[t.status] || t.status) + (WHY[t.handoff_reason] || "")), el("td", hhmm(t.created_at)),
        el("td", t.status === "open" ? hhmm(t.ack_deadline_at) : "")); body.append(tr); });
  }

  function timeline(items) {
    const ol = document.getElementById("timeline"); ol.replaceChildren();
    items.forEach(e => ol.append(el("li", hhmm(e.at) + " " + (EVENT[e.kind] || e.kind) + (e.patient_id ? "（患者ID " + e.patient_id + "）" : "") + " " + (e.detail_text || ""))));
  }

  async function refresh() {
    try {
      const res = await fetch(LIVE, {headers: {"Accept": "application/json"}, credentials: "same-origin"});
      if (!res.ok) throw new Error(res.status);
      const data = await res.json();
      skew = new Date(data.now).getTime() - Date.now();
      const o = data.outage;
      document.getElementById("status").textContent = o.status === "active" ? "対応中" : "復旧済";
      cards("checkin-cards", o.counts.checkin, CHECKIN, "");
      cards("tier-cards", o.counts.tier, TIER, "tier-");
      document.getElementById("muni-unknown").hidden = !o.municipality_unknown;
      document.getElementById("muni-unknown-n").textContent = String(o.municipality_unknown || 0);
      charging = data.charging || {};
      triage(data.patients, data.transports); map(data.patients, data.facilities);
      transportTable(data.transports); tasks(data.tasks); timeline(data.events);
      document.dispatchEvent(new CustomEvent("outages:live", {detail: data}));   // static/outages/urgent.js
      document.getElementById("updated").textContent = hhmm(data.now);
      document.getElementById("stale").hidden = true;
      document.body.dataset.loaded = "1";
    } catch (err) {
      document.getElementById("stale").hidden = false;
    }
  }
  refresh(); setInterval(refresh, 10000); setInterval(tick, 1000);
})();
