// Patient form helpers: device presets, postal code → address, geocoding, live runway preview.
// Everything here is optional: the form submits and validates on the server without JavaScript.
(function () {
  "use strict";
  var form = document.getElementById("patient-form");
  if (!form) return;
  var presets = JSON.parse(document.getElementById("presets-data").textContent);
  var csrf = form.querySelector("input[name=csrf_token]").value;
  function field(name) { return form.querySelector("[name='" + name + "']"); }
  function set(name, value) {
    var el = field(name);
    if (el && value !== undefined && value !== null) { el.value = String(value); }
  }
  function emptyBackupRow() {
    for (var i = 0; field("backups-" + i + "-kind"); i++) {
      if (!field("backups-" + i + "-kind").value) return i;
    }
    return -1;
  }
  form.querySelectorAll("select.preset").forEach(function (sel) {
    sel.addEventListener("change", function () {
      var p = presets.devices.find(function (d) { return d.key === sel.value; });
      if (!p) return;
      var i = sel.dataset.index, pre = "devices-" + i + "-";
      set(pre + "kind", p.kind); set(pre + "mode", p.mode || ""); set(pre + "model", p.label);
      set(pre + "watts", p.watts); set(pre + "hours_per_day", p.hours_per_day);
      set(pre + "internal_battery_hours", p.internal_battery_hours);
      set(pre + "role", p.role === "spare" ? "spare" : ""); set(pre + "flow_lpm", p.flow_lpm === undefined ? "" : p.flow_lpm);
      if (p.external_battery) {
        var b = emptyBackupRow();
        if (b >= 0) {
          set("backups-" + b + "-kind", "external_battery");
          set("backups-" + b + "-hours", p.external_battery.hours);
          set("backups-" + b + "-count", p.external_battery.count);
          set("backups-" + b + "-device_kind", p.external_battery.device_kind || p.kind);
        }
      }
      preview();
    });
  });
  function msg(text) { var el = document.getElementById("geo-msg"); if (el) el.textContent = text; }
  form.querySelector("[data-action=postal]").addEventListener("click", function () {
    var code = field("postal_code").value.trim();
    fetch("/api/v1/postal-codes/" + encodeURIComponent(code), {credentials: "same-origin"})
      .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (res) {
        if (!res[0]) { msg(res[1].error ? res[1].error.message : "郵便番号を確認してください"); return; }
        if (!field("address").value) set("address", res[1].address);
        set("municipality_code", res[1].municipality_code);
        msg("住所を補完しました。番地を追記してください。");
      }).catch(function () { msg("郵便番号を調べられませんでした"); });
  });
  form.querySelector("[data-action=geocode]").addEventListener("click", function () {
    fetch("/api/v1/geocode", {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify({address: field("address").value})})
      .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (res) {
        if (!res[0]) { msg(res[1].error ? res[1].error.message : "座標を求められませんでした"); return; }
        set("lat", res[1].lat.toFixed(6)); set("lon", res[1].lon.toFixed(6));
        msg("座標を入力しました（" + res[1].matched_address + "）。地図で確認してください。");
      }).catch(function () { msg("座標変換サービスに接続できません。座標を手入力してください"); });
  });
  function rows(group, names) {
    var out = [];
    for (var i = 0; field(group + "-" + i + "-" + names[0]); i++) {
      var row = {}, any = false;
      names.forEach(function (n) {
        var el = field(group + "-" + i + "-" + n);
        if (el && el.value !== "") { row[n] = el.value; any = true; }
      });
      if (any && row.kind) out.push(row);
    }
    return out;
  }
  var timer = null;
  function preview() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var devices = rows("devices", ["kind", "mode", "watts", "hours_per_day", "internal_battery_hours", "life_sustaining",
                                     "role", "flow_lpm", "schedule_start", "schedule_end"]);
      devices.forEach(function (d) {
        if ("schedule_start" in d || "schedule_end" in d) {
          d.daily_schedule = {start: d.schedule_start || "", end: d.schedule_end || ""};
        }
        delete d.schedule_start; delete d.schedule_end;
        if ("life_sustaining" in d) d.life_sustaining = d.life_sustaining === "1";
        if (d.kind !== "ventilator") delete d.mode;
      });
      var backups = rows("backups", ["kind", "hours", "count", "watt_hours", "device_kind", "liters", "conserver_ratio",
                                     "dc_output", "fuel_cans", "fuel_liters", "checked_on", "purchased_on"]);
      backups.forEach(function (b) { if ("dc_output" in b) b.dc_output = b.dc_output === "1"; });
      fetch("/api/v1/runway", {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
        body: JSON.stringify({devices: devices, backups: backups})})
        .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
        .then(function (res) {
          var el = document.getElementById("runway-preview");
          if (!res[0]) { el.textContent = "試算できません：入力を確認してください"; el.className = "runway-preview"; return; }
          el.textContent = "試算：" + res[1].explain;
          el.className = "runway-preview tier-" + res[1].tier;
        }).catch(function () {});
    }, 400);
  }
  // Pick coordinates on the map (only when Leaflet and the GSI tiles load; otherwise by hand).
  var pick = document.getElementById("pick-map");
  if (pick && typeof L !== "undefined") {
    var lat0 = parseFloat(field("lat").value), lon0 = parseFloat(field("lon").value);
    var has = !isNaN(lat0) && !isNaN(lon0);
    pick.hidden = false;
    var map = L.map(pick).setView(has ? [lat0, lon0] : [35.68, 139.76], has ? 16 : 11);
    var tiles = L.tileLayer("https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png", {
      maxZoom: 18, attribution: '<a href="https://maps.gsi.go.jp/development/ichiran.html">地理院タイル</a>'}).addTo(map);
    var ok = 0, bad = 0;
    tiles.on("tileload", function () { ok++; });
    tiles.on("tileerror", function () { bad++; if (!ok && bad >= 4) { pick.hidden = true; } });
    var marker = has ? L.circleMarker([lat0, lon0], {radius: 8}).addTo(map) : null;
    map.on("click", function (e) {
      set("lat", e.latlng.lat.toFixed(6)); set("lon", e.latlng.lng.toFixed(6));
      if (marker) { marker.setLatLng(e.latlng); } else { marker = L.circleMarker(e.latlng, {radius: 8}).addTo(map); }
      msg("地図で選んだ座標を入力しました。");
    });
  }
  form.addEventListener("change", function (e) {
    if (e.target.name && /^(devices|backups)-/.test(e.target.name)) preview();
  });
})();
