// A small SVG chart of hourly values: bars (AQI, each in its level's
// colour) or a line (a concentration). Hours without a value are gaps,
// never zeros. The chart has a title and a description for screen
// readers; the page gives its numbers in a table beside it as well.

import { svg } from "./util.js";

/** niceStep is a round step for about n ticks over span. */
function niceStep(span, n) {
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

/**
 * chart draws points, [{t: Date, v: number|null, colour}], hourly values
 * labelled by their hour's end. opts: width, height, kind ("bars" or
 * "line"), title, desc, unit, timeFmt (an Intl.DateTimeFormat), numFmt.
 */
export function chart(points, opts) {
  const W = Math.max(260, Math.round(opts.width || 600));
  const H = opts.height || 180;
  const m = { top: 12, right: 10, bottom: 26, left: 44 };
  const iw = W - m.left - m.right, ih = H - m.top - m.bottom;
  const vals = points.map((p) => p.v).filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  let hi = vals.length ? Math.max(...vals) : 1;
  if (opts.kind === "bars" || !vals.length) hi = Math.max(hi, 1);
  let lo = opts.kind === "bars" ? 0 : Math.min(0, ...vals);
  if (hi === lo) hi = lo + 1;
  const step = niceStep(hi - lo, 4);
  hi = Math.ceil(hi / step) * step;
  const n = points.length;
  const slot = iw / Math.max(n, 1);
  const x = (i) => m.left + slot * (i + 0.5);
  const y = (v) => m.top + ih - ((v - lo) / (hi - lo)) * ih;
  const id = "c" + Math.random().toString(36).slice(2, 8);

  const root = svg("svg", {
    width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart",
    "aria-labelledby": `${id}-t ${id}-d`, "data-kind": opts.kind, "data-points": vals.length,
  }, svg("title", { id: `${id}-t` }, opts.title), svg("desc", { id: `${id}-d` }, opts.desc || ""));

  // Grid and y ticks.
  const grid = svg("g", { class: "grid" });
  for (let v = lo; v <= hi + step / 2; v += step) {
    grid.append(svg("line", { x1: m.left, x2: W - m.right, y1: y(v), y2: y(v) }),
      svg("text", { x: m.left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, opts.numFmt ? opts.numFmt(v) : String(v)));
  }
  root.append(grid);

  // X ticks every 6 hours, and the last hour.
  const xt = svg("g", { class: "xticks" });
  points.forEach((p, i) => {
    if ((n - 1 - i) % 6 === 0) {
      xt.append(svg("line", { x1: x(i), x2: x(i), y1: m.top + ih, y2: m.top + ih + 4 }),
        svg("text", { x: x(i), y: H - 8, "text-anchor": "middle", class: "tick" }, opts.timeFmt.format(p.t)));
    }
  });
  root.append(xt, svg("line", { class: "axis", x1: m.left, x2: W - m.right, y1: m.top + ih, y2: m.top + ih }));

  const data = svg("g", { class: "data" });
  if (opts.kind === "bars") {
    const bw = Math.max(2, slot * 0.72);
    points.forEach((p, i) => {
      if (p.v === null || p.v === undefined) return;
      data.append(svg("rect", {
        x: x(i) - bw / 2, y: y(p.v), width: bw, height: Math.max(1, m.top + ih - y(p.v)),
        fill: p.colour || "#888888", stroke: "#333333", "stroke-width": 0.5, "data-v": p.v,
      }, svg("title", {}, `${opts.timeFmt.format(p.t)}: ${p.label || p.v}`)));
    });
  } else {
    // One path per run of consecutive values; a lone value is a dot.
    let run = [];
    const flush = () => {
      if (run.length > 1) data.append(svg("path", { d: run.map(([px, py], k) => (k ? "L" : "M") + px.toFixed(1) + " " + py.toFixed(1)).join(" "), class: "line" }));
      run = [];
    };
    points.forEach((p, i) => {
      if (p.v === null || p.v === undefined) {
        flush();
        return;
      }
      run.push([x(i), y(p.v)]);
      data.append(svg("circle", { cx: x(i), cy: y(p.v), r: 2.5, class: "dot", "data-v": p.v },
        svg("title", {}, `${opts.timeFmt.format(p.t)}: ${opts.numFmt ? opts.numFmt(p.v) : p.v} ${opts.unit || ""}`)));
    });
    flush();
  }
  root.append(data);
  return root;
}
