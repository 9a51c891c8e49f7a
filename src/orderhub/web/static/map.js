// Maps of the console and the tracking page: country outlines (map-outlines.js, Natural Earth)
// behind points, in an equirectangular projection fitted to the points shown; labels placed
// where they do not overlap, else left to the point's hover title. No network: the outlines
// are a static file of this server.
//
//   OrderHubMap.draw(svg, {points: [{lat, lon, r, fill, stroke, label, title, kind}], line: bool})
//   <svg data-map="id-of-a-json-script"> is drawn on load from that script's {points: [...]}.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var LAND = "#f3f0e8", BORDER = "#c8c2b4", SEA = "#dbe8f4";

  function el(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // The box of the points, padded, at least minSpan degrees high, widened to the SVG's shape.
  function fit(points, width, height, minSpan) {
    var lats = points.map(function (p) { return p.lat; }), lons = points.map(function (p) { return p.lon; });
    var south = Math.min.apply(null, lats), north = Math.max.apply(null, lats);
    var west = Math.min.apply(null, lons), east = Math.max.apply(null, lons);
    var midLat = (south + north) / 2, midLon = (west + east) / 2;
    var k = Math.max(Math.cos(midLat * Math.PI / 180), 0.2);  // a degree of longitude is shorter here
    var spanY = Math.max(north - south, minSpan), spanX = Math.max((east - west) * k, minSpan * k);
    var margin = 0.14;  // room for circles and labels at the edges
    var scale = Math.min(width * (1 - 2 * margin) / spanX, height * (1 - 2 * margin) / spanY);
    return {
      xy: function (lon, lat) { return [width / 2 + (lon - midLon) * k * scale, height / 2 - (lat - midLat) * scale]; },
      // the degrees the whole SVG shows, to skip countries outside it
      bounds: [midLon - width / 2 / scale / k, midLat - height / 2 / scale, midLon + width / 2 / scale / k, midLat + height / 2 / scale],
      scale: scale
    };
  }

  function drawLand(group, proj) {
    var data = window.OrderHubOutlines;
    if (!data) return;
    var b = proj.bounds, unit = data.scale;
    data.countries.forEach(function (c) {
      if (c.b[2] < b[0] || c.b[0] > b[2] || c.b[3] < b[1] || c.b[1] > b[3]) return;
      var d = [];
      c.r.forEach(function (ring) {
        var x = 0, y = 0, parts = [];
        for (var i = 0; i < ring.length; i += 2) {
          x += ring[i]; y += ring[i + 1];
          var p = proj.xy(x / unit, y / unit);
          parts.push((i ? "L" : "M") + p[0].toFixed(1) + " " + p[1].toFixed(1));
        }
        d.push(parts.join("") + "Z");
      });
      var path = el("path", { d: d.join(""), fill: LAND, stroke: BORDER, "stroke-width": 1, "data-country": c.n });
      path.appendChild(el("title", {}, c.n));
      group.appendChild(path);
    });
  }

  function overlaps(a, b) {
    return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  }

  // Greedy placement, most important point first (larger, then higher rank): right, left, above,
  // below the point; a label
  // that fits nowhere is left out (the point keeps it as its hover title). Labels keep off each
  // other and off the nodes' circles (the small destination dots may be covered).
  function placeLabels(group, placed, width, height) {
    var taken = placed.filter(function (p) { return (p.r || 4) >= 4; }).map(function (p) {
      var r = p.r || 4;
      return { x: p.x - r, y: p.y - r, width: 2 * r, height: 2 * r, owner: p };
    });
    var named = {};  // a place named once is enough (a DC and a store in one city)
    placed.filter(function (p) { return p.label; })
      .sort(function (a, b) { return (b.r || 0) - (a.r || 0) || (b.rank || 0) - (a.rank || 0) || (a.label < b.label ? -1 : 1); })
      .forEach(function (p) {
        if (named[p.label]) return;
        var r = (p.r || 4) + 3, gap = 4;
        var tries = [[r, 4, "start"], [-r, 4, "end"], [0, -r - gap, "middle"], [0, r + 11, "middle"]];
        var text = el("text", { "font-size": 12, fill: "#1d2433", "paint-order": "stroke", stroke: "#ffffff", "stroke-width": 3, "stroke-linejoin": "round", "data-label": p.label }, p.label);
        group.appendChild(text);
        for (var i = 0; i < tries.length; i++) {
          text.setAttribute("x", p.x + tries[i][0]);
          text.setAttribute("y", p.y + tries[i][1]);
          text.setAttribute("text-anchor", tries[i][2]);
          var box = text.getBBox();
          var inside = box.x >= 0 && box.y >= 0 && box.x + box.width <= width && box.y + box.height <= height;
          if (inside && !taken.some(function (t) { return t.owner !== p && overlaps(t, box); })) {
            taken.push(box);
            named[p.label] = true;
            return;
          }
        }
        group.removeChild(text);
      });
  }

  function draw(svg, spec) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var vb = (svg.getAttribute("viewBox") || "0 0 800 420").split(/[ ,]+/).map(Number);
    var width = vb[2], height = vb[3];
    svg.appendChild(el("rect", { x: 0, y: 0, width: width, height: height, fill: SEA }));
    var points = (spec.points || []).filter(function (p) { return p.lat != null && p.lon != null; });
    if (!points.length) return;
    var proj = fit(points, width, height, spec.minSpan || 0.5);
    var land = el("g", { "class": "map-land" });
    svg.appendChild(land);
    drawLand(land, proj);
    var placed = points.map(function (p) { var c = proj.xy(p.lon, p.lat); return Object.assign({}, p, { x: c[0], y: c[1] }); });
    if (spec.line && placed.length > 1) {
      var a = placed[0], b = placed[placed.length - 1];
      svg.appendChild(el("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, stroke: "#175cd3", "stroke-width": 2, "stroke-dasharray": "6 5" }));
    }
    var dots = el("g", { "class": "map-points" });
    svg.appendChild(dots);
    // small points under big ones, so every node stays clickable
    placed.slice().sort(function (a, b) { return (b.r || 4) - (a.r || 4); }).forEach(function (p) {
      var dot = el("circle", {
        cx: p.x.toFixed(1), cy: p.y.toFixed(1), r: p.r || 4, fill: p.fill || "#2456d6", "fill-opacity": p.opacity || 0.85,
        stroke: p.stroke || "#ffffff", "stroke-width": p.strokeWidth || 1, "data-kind": p.kind || "", "data-id": p.id || ""
      });
      if (p.title || p.label) dot.appendChild(el("title", {}, p.title || p.label));
      dots.appendChild(dot);
    });
    var labels = el("g", { "class": "map-labels" });
    svg.appendChild(labels);
    placeLabels(labels, placed, width, height);
  }

  window.OrderHubMap = { draw: draw, fit: fit };

  function drawAll() {
    Array.prototype.forEach.call(document.querySelectorAll("svg[data-map]"), function (svg) {
      var source = document.getElementById(svg.dataset.map);
      if (source) draw(svg, JSON.parse(source.textContent));
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
