// The public tracking page: re-render from the customer view on every server-sent update.
(function () {
  "use strict";
  var main = document.querySelector("main[data-token]");
  if (!main) return;
  var words = JSON.parse(document.getElementById("words").textContent);
  var live = document.getElementById("live");

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // times in the reader's own time zone, written the way their language writes them
  var locale = { en: "en-GB", de: "de-DE", zh: "zh-CN" }[main.dataset.lang] || undefined;
  function when(iso) {
    if (!iso) return "";
    try {
      return new Date(iso).toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" });
    } catch (e) {
      return iso.slice(0, 16).replace("T", " ") + " UTC";
    }
  }

  function drawMap(v) {
    var svg = document.getElementById("map");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var pts = [];
    if (v.destination && v.destination.lat != null) pts.push({ lat: v.destination.lat, lon: v.destination.lon, kind: "dest" });
    if (v.position) pts.push({ lat: v.position.lat, lon: v.position.lon, kind: "pos" });
    var ns = "http://www.w3.org/2000/svg";
    function svgEl(tag, attrs) { var e = document.createElementNS(ns, tag); Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); }); return e; }
    if (!pts.length) return;
    var lats = pts.map(function (p) { return p.lat; }), lons = pts.map(function (p) { return p.lon; });
    var pad = 0.05;
    var minLat = Math.min.apply(null, lats) - pad, maxLat = Math.max.apply(null, lats) + pad;
    var minLon = Math.min.apply(null, lons) - pad, maxLon = Math.max.apply(null, lons) + pad;
    var k = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);  // equirectangular: keep shapes
    var w = (maxLon - minLon) * k, h = maxLat - minLat, s = Math.min(280 / w, 140 / h);
    function xy(p) { return [160 + ((p.lon - (minLon + maxLon) / 2) * k) * s, 90 - (p.lat - (minLat + maxLat) / 2) * s]; }
    for (var g = 1; g < 8; g++) svg.appendChild(svgEl("line", { x1: g * 40, y1: 0, x2: g * 40, y2: 180, stroke: "#dbe3ec" }));
    for (g = 1; g < 5; g++) svg.appendChild(svgEl("line", { x1: 0, y1: g * 36, x2: 320, y2: g * 36, stroke: "#dbe3ec" }));
    if (pts.length === 2) {
      var a = xy(pts[0]), b = xy(pts[1]);
      svg.appendChild(svgEl("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1], stroke: "#175cd3", "stroke-dasharray": "4 4" }));
    }
    pts.forEach(function (p) {
      var c = xy(p);
      var dot = svgEl("circle", { cx: c[0], cy: c[1], r: p.kind === "pos" ? 7 : 5, fill: p.kind === "pos" ? "#175cd3" : "#1a7f4b", "data-kind": p.kind });
      var title = document.createElementNS(ns, "title");
      title.textContent = p.kind === "pos" ? words.position : words.destination;
      dot.appendChild(title);
      svg.appendChild(dot);
    });
  }

  function render(v) {
    document.getElementById("status").textContent = v.status_text || words.none;
    var steps = document.getElementById("steps");
    Array.prototype.forEach.call(steps.children, function (span, i) { span.className = v.steps[i] && v.steps[i].reached ? "on" : ""; });
    var est = document.getElementById("estimate");
    est.textContent = "";
    if (v.delivered_at) { est.append(words.delivered + " "); est.appendChild(el("b", {}, v.delivered_at.slice(0, 10))); }
    else if (v.estimated_delivery) {
      est.append(words.estimate + ": "); est.appendChild(el("b", {}, v.estimated_delivery));
      est.append(" "); est.appendChild(el("span", { class: "muted" }, "(" + (v.estimate_source === "carrier" ? words.by_carrier : words.by_promise) + ")"));
    }
    document.getElementById("position").textContent = v.position ? words.position + ": " + v.position.lat.toFixed(4) + ", " + v.position.lon.toFixed(4) + " · " + when(v.position.at) : "";
    var list = document.getElementById("history");
    list.textContent = "";
    if (!v.milestones.length) list.appendChild(el("li", {}, words.none));
    v.milestones.forEach(function (m) {
      var li = el("li", m.problem ? { class: "problem" } : {});
      li.appendChild(el("b", {}, m.text));
      li.appendChild(el("div", { class: "muted" }, when(m.at) + (m.location ? " · " + m.location : "")));
      list.appendChild(li);
    });
    var box = document.getElementById("parcels"), ul = document.getElementById("parcel-list");
    box.hidden = !v.parcels.length;
    ul.textContent = "";
    v.parcels.forEach(function (p) {
      var li = el("li", {}, p.carrier.toUpperCase() + " ");
      if (p.tracking_url) li.appendChild(el("a", { href: p.tracking_url, rel: "noopener noreferrer", target: "_blank" }, p.tracking_number));
      else li.append(p.tracking_number);
      if (p.state_text) li.append(" · " + p.state_text);
      ul.appendChild(li);
    });
    drawMap(v);
  }

  render(JSON.parse(document.getElementById("view").textContent));
  if (!window.EventSource) return;
  var source = new EventSource("/track/" + encodeURIComponent(main.dataset.token) + "/live?lang=" + encodeURIComponent(main.dataset.lang));
  source.addEventListener("open", function () { live.textContent = "● " + main.dataset.live; live.className = "live"; });
  source.addEventListener("error", function () { live.textContent = main.dataset.offline; live.className = "live off"; });
  source.addEventListener("update", function (e) {
    live.textContent = "● " + main.dataset.live; live.className = "live";
    render(JSON.parse(e.data));
  });
})();
