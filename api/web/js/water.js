// The water tab: each water station's GB 3838-2002 class against its
// target, from /api/v1/water.

import { el, getJSON, timeFormat, number } from "./util.js";

/** classText is a water class in the current language, or why there is none. */
function classText(ctx, c, reason) {
  if (c) return ctx.lang === "zh" ? c.zh : c.en;
  return ctx.t("reason." + (reason || "no_data"));
}

function meets(ctx, m) {
  if (m === null || m === undefined) return el("span", { class: "meets unknown" }, ctx.t("none"));
  return el("span", { class: "meets " + (m ? "yes" : "no") }, ctx.t(m ? "water.yes" : "water.no"));
}

export const waterView = {
  id: "water",
  label: "tab.water",
  mount(panel, ctx) {
    let data = null, error = null;
    const ctl = new AbortController();
    const box = el("section", { class: "card", "aria-labelledby": "water-title" });
    panel.append(box);

    function render() {
      const head = el("h2", { id: "water-title" }, ctx.t("water.title"));
      if (!data) {
        box.replaceChildren(head, el("p", {}, error ? ctx.t("error.load", { what: "/api/v1/water", msg: error }) : ctx.t("loading")));
        return;
      }
      if (!data.stations.length) {
        box.replaceChildren(head, el("p", {}, ctx.t("water.none")));
        return;
      }
      box.replaceChildren(head, el("div", { class: "table-wrap" }, el("table", { class: "water", id: "water-table" },
        el("caption", { class: "visually-hidden" }, ctx.t("water.caption")),
        el("thead", {}, el("tr", {}, ["col.station", "water.target", "water.class", "water.meets", "water.params"].map((k) => el("th", { scope: "col" }, ctx.t(k))))),
        el("tbody", {}, data.stations.map((s) => {
          const fmt = timeFormat(ctx.lang, s.station.time_zone, true);
          return el("tr", { "data-station": s.station.id, "data-class": s.class?.code ?? "" },
            el("th", { scope: "row" }, ctx.text(s.station.name, s.station.id),
              el("span", { class: "address" }, ctx.text(s.station.point_name, s.station.point))),
            el("td", {}, classText(ctx, s.target, "not_defined")),
            el("td", {}, el("span", { class: "water-class", "data-code": s.class?.code ?? "" }, classText(ctx, s.class, s.reason)),
              s.determining.length ? el("span", { class: "address" }, ctx.t("water.determining") + ": " + s.determining.join(", ")) : null),
            el("td", {}, meets(ctx, s.meets_target)),
            el("td", {}, s.parameters.length ? el("ul", { class: "params" }, s.parameters.map((p) => el("li", {},
              `${p.name}: `, p.value === null ? ctx.t("reason." + (p.reason || "no_data")) : `${number(ctx.lang, p.value, 3)} ${p.unit}`,
              p.class ? ` · ${classText(ctx, p.class)}` : "",
              p.period ? el("time", { datetime: p.period.end, class: "when" }, " · " + fmt.format(new Date(p.period.end))) : null))) : ctx.t("none")));
        })))));
    }

    getJSON("api/v1/water", ctl.signal).then((b) => { data = b; render(); }, (e) => { if (e.name !== "AbortError") { error = e.message; render(); } });
    render();
    return { refresh: render, unmount: () => ctl.abort() };
  },
};
