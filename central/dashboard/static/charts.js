/* Small SVG charts for the statistics page, drawn in the browser. Own work, Apache-2.0.
   Every chart comes with its numbers as a table (for screen readers and for checking), and
   series differ by colour and by pattern (hatching), never by colour alone. */
"use strict";
(function () {
  const { el, svg } = window.egate;
  const W = 640, H = 260, M = { l: 48, r: 12, t: 12, b: 48 };

  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function defs() {
    return svg("defs", {}, svg("pattern", { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
      svg("rect", { width: 6, height: 6, fill: "#ffffff" }), svg("rect", { width: 3, height: 6, fill: "#1b1f24" })));
  }
  function legend(series) {
    return el("ul.legend", {}, series.map((s, i) => el("li", {}, el("span.sw.c" + (i % 6) + (i % 2 ? ".hatched" : "")), s.name)));
  }
  function table(caption, head, rows) {
    return el("details", {}, el("summary", { text: caption }), el("table", {},
      el("thead", {}, el("tr", {}, head.map((h, i) => el("th" + (i ? ".num" : ""), { scope: "col", text: h })))),
      el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) => el("td" + (i ? ".num" : ""), { text: c })))))));
  }

  /* Stacked vertical bars: labels along x, one stack segment per series. */
  function stacked(title, labels, series, tableCaption) {
    const totals = labels.map((_, i) => series.reduce((a, s) => a + (s.values[i] || 0), 0));
    const max = niceMax(Math.max(0, ...totals));
    const iw = W - M.l - M.r, ih = H - M.t - M.b, bw = iw / Math.max(1, labels.length);
    const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title }, defs());
    for (let k = 0; k <= 4; k++) {
      const y = M.t + ih - (ih * k) / 4;
      g.append(svg("line", { class: "grid", x1: M.l, x2: W - M.r, y1: y, y2: y }),
        svg("text", { x: M.l - 6, y: y + 4, "text-anchor": "end", text: String(Number(((max * k) / 4).toFixed(2))) }));
    }
    const every = Math.ceil(labels.length / 12);
    labels.forEach((lab, i) => {
      let y = M.t + ih;
      series.forEach((s, j) => {
        const v = s.values[i] || 0;
        const h = (ih * v) / max;
        y -= h;
        if (h > 0) {
          g.append(svg("rect", { class: "c" + (j % 6), x: M.l + i * bw + bw * 0.1, y, width: bw * 0.8, height: h }, svg("title", { text: `${lab} ${s.name}: ${v}` })));
          if (j % 2) g.append(svg("rect", { class: "p1", x: M.l + i * bw + bw * 0.1, y, width: bw * 0.8, height: h, opacity: 0.35 }));
        }
      });
      if (i % every === 0) g.append(svg("text", { x: M.l + i * bw + bw / 2, y: H - M.b + 16, "text-anchor": "middle", text: lab }));
    });
    g.append(svg("line", { class: "axis", x1: M.l, x2: W - M.r, y1: M.t + ih, y2: M.t + ih }));
    return el("figure.chart", {}, el("figcaption", {}, el("h2", { text: title })), g, legend(series),
      table(tableCaption, ["", ...series.map((s) => s.name)], labels.map((lab, i) => [lab, ...series.map((s) => String(s.values[i] || 0))])));
  }

  /* Horizontal bars: one per item (referral reasons, availability...). */
  function hbars(title, items, opts) {
    const o = Object.assign({ max: null, format: (v) => String(v), tableCaption: "" }, opts || {});
    const rowH = 22, h = M.t + items.length * rowH + 8, lw = 200;
    const max = o.max || niceMax(Math.max(0, ...items.map((i) => i.value)));
    const g = svg("svg", { viewBox: `0 0 ${W} ${Math.max(h, 40)}`, role: "img", "aria-label": title });
    items.forEach((it, i) => {
      const y = M.t + i * rowH, w = ((W - lw - 70) * it.value) / max;
      g.append(svg("text", { x: lw - 6, y: y + 14, "text-anchor": "end", text: it.label }),
        svg("rect", { class: "c" + (it.cls ?? 4), x: lw, y: y + 2, width: Math.max(0, w), height: rowH - 6 }, svg("title", { text: `${it.label}: ${o.format(it.value)}` })),
        svg("text", { x: lw + Math.max(0, w) + 6, y: y + 14, text: o.format(it.value) }));
    });
    return el("figure.chart", {}, el("figcaption", {}, el("h2", { text: title })), g,
      table(o.tableCaption, ["", title], items.map((it) => [it.label, o.format(it.value)])));
  }

  window.egate.charts = { stacked, hbars, niceMax };
})();
