// Leaflet map with GSI tiles. If Leaflet or the tiles do not load, the SVG plot and the tables
// on the page remain the map.
(function () {
  "use strict";
  var box = document.getElementById("map"), status = document.getElementById("tile-status");
  if (!box || typeof L === "undefined") return;
  var points = JSON.parse(document.getElementById("map-data").textContent);
  if (!points.length) return;
  box.hidden = false;
  var map = L.map(box);
  var loaded = 0, failed = 0;
  var tiles = L.tileLayer("https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png", {
    maxZoom: 18,
    attribution: '<a href="https://maps.gsi.go.jp/development/ichiran.html">地理院タイル</a>'
  }).addTo(map);
  tiles.on("tileload", function () { loaded++; });
  tiles.on("tileerror", function () {
    failed++;
    if (!loaded && failed >= 4) {
      box.hidden = true;
      status.textContent = "地図タイルを読み込めません（ネットワーク未接続）。下の図と一覧を使ってください。";
    }
  });
  var colours = {red: "#c62828", yellow: "#f2b705", green: "#2e7d32"};
  var bounds = [];
  points.forEach(function (p) {
    var ll = [p.lat, p.lon];
    bounds.push(ll);
    var marker = p.type === "facility"
      ? L.marker(ll, {title: p.name})
      : L.circleMarker(ll, {radius: 7, color: "#222", weight: 1, fillColor: colours[p.tier], fillOpacity: 0.9});
    var label = document.createElement("span");
    if (p.url) { var a = document.createElement("a"); a.href = p.url; a.textContent = p.name; label.appendChild(a); }
    else { label.textContent = p.name; }
    marker.bindPopup(label).addTo(map);
  });
  map.fitBounds(bounds, {padding: [20, 20], maxZoom: 15});
})();
