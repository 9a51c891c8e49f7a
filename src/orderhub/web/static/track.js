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

  // the destination and the parcel's last position over the country outlines (map.js)
  function drawMap(v) {
    var svg = document.getElementById("map");
    var pts = [];
    if (v.destination && v.destination.lat != null) pts.push({ lat: v.destination.lat, lon: v.destination.lon, kind: "dest", r: 5, fill: "#1a7f4b", title: words.destination });
    if (v.position) pts.push({ lat: v.position.lat, lon: v.position.lon, kind: "pos", r: 7, fill: "#175cd3", title: words.position });
    if (window.OrderHubMap) window.OrderHubMap.draw(svg, { points: pts, line: pts.length === 2, minSpan: 0.1 });
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
