// The noise tab: each noise station's day (Ld) and night (Ln) levels
// against its zone's GB 3096-2008 limits, today and recent days, from
// /api/v1/noise.

import { el, getJSON, number } from "./util.js";

function level(ctx, l, limit) {
  if (l.value === null) return el("span", { class: "noise-level none" }, ctx.t("reason." + (l.reason || "no_data")));
  const parts = [`${number(ctx.lang, l.value, 1)} dB(A)`];
  let cls = "noise-level";
  if (limit !== undefined) {
    parts.push(" · " + ctx.t("noise.limit", { v: limit }));
    if (l.exceeds) {
      cls += " exceeds";
      parts.push(" · ✗ " + ctx.t("noise.exceeds", { v: number(ctx.lang, l.excess, 1) }));
    } else if (l.exceeds === false) {
      parts.push(" · ✓ " + ctx.t("noise.within"));
    }
  }
  return el("span", { class: cls, "data-exceeds": String(!!l.exceeds) }, parts.join(""));
}

export const noiseView = {
  id: "noise",
  label: "tab.noise",
  mount(panel, ctx) {
    let data = null, error = null;
    const ctl = new AbortController();
    const box = el("section", { class: "card", "aria-labelledby": "noise-title" });
    panel.append(box);

    function render() {
      const head = el("h2", { id: "noise-title" }, ctx.t("noise.title"));
      if (!data) {
        box.replaceChildren(head, el("p", {}, error ? ctx.t("error.load", { what: "/api/v1/noise", msg: error }) : ctx.t("loading")));
        return;
      }
      if (!data.stations.length) {
        box.replaceChildren(head, el("p", {}, ctx.t("noise.none")));
        return;
      }
      box.replaceChildren(head, el("p", { class: "caption" }, ctx.t("noise.caption")),
        ...data.stations.map((s) => el("section", { class: "noise-station", "data-station": s.station.id, "aria-labelledby": "noise-" + s.station.id },
          el("h3", { id: "noise-" + s.station.id }, ctx.text(s.station.name, s.station.id), " · ",
            s.zone ? ctx.t("noise.zone", { z: s.zone }) : ctx.t("noise.zone.none")),
          el("p", { class: "address" }, ctx.text(s.station.point_name, s.station.point)),
          el("div", { class: "table-wrap" }, el("table", { class: "noise" },
            el("thead", {}, el("tr", {}, ["noise.date", "noise.ld", "noise.ln", "noise.lmax"].map((k) => el("th", { scope: "col" }, ctx.t(k))))),
            el("tbody", {}, s.days.map((d) => el("tr", { "data-date": d.date },
              el("th", { scope: "row" }, d.date, d.complete ? null : el("span", { class: "address" }, ctx.t("noise.partial"))),
              el("td", {}, level(ctx, d.ld, s.limits?.day)),
              el("td", {}, level(ctx, d.ln, s.limits?.night)),
              el("td", {}, d.night_lmax_reason ? ctx.t("reason." + d.night_lmax_reason) : `${d.lmax_exceeding} / ${d.night_lmax.length}`)))))))));
    }

    getJSON("api/v1/noise", ctl.signal).then((b) => { data = b; render(); }, (e) => { if (e.name !== "AbortError") { error = e.message; render(); } });
    render();
    return { refresh: render, unmount: () => ctl.abort() };
  },
};
