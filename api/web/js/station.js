// A station's page (#/station/{id}): its current report with the health
// advice, and the 24 h charts of its AQI and of each pollutant, from
// /api/v1/stations/{id}/aqi.

import { el, getJSON, timeFormat, dateFormat, number } from "./util.js";
import { pollutants } from "./i18n.js";
import { badge, primaryText, adviceBlock, levelText } from "./air.js";
import { chart } from "./chart.js";

const order = ["pm25", "pm10", "so2", "no2", "co", "o3"];

/** seriesValue is the value a pollutant's chart shows of a report: its shortest averaging. */
function seriesValue(report, p) {
  const vs = (report.values || []).filter((v) => v.pollutant === p);
  const rank = { "1h": 0, nowcast: 1, "8h": 2, "24h": 3 };
  vs.sort((a, b) => (rank[a.averaging] ?? 9) - (rank[b.averaging] ?? 9));
  return vs[0] || null;
}

export const stationView = {
  id: "station",
  label: "tab.air",
  mount(panel, ctx, id) {
    let history = null, error = null, loading = null;
    const box = el("div", { class: "station-page", "data-station": id });
    panel.append(box);

    async function load() {
      const ctl = new AbortController();
      loading?.abort();
      loading = ctl;
      try {
        history = await getJSON(`api/v1/stations/${encodeURIComponent(id)}/aqi` + ctx.query(), ctl.signal);
        error = null;
      } catch (e) {
        if (e.name === "AbortError") return;
        error = e.message;
      }
      if (loading === ctl) loading = null;
      render();
    }

    function current() {
      return ctx.air.byId.get(id) || (history && history.items.length ? { ...history.items[history.items.length - 1], station: history.station } : null);
    }

    function render() {
      const cur = current();
      const ref = cur?.station || history?.station;
      const back = el("p", {}, el("a", { href: "#/air", class: "back" }, ctx.t("station.back")));
      if (!ref) {
        box.replaceChildren(back, el("p", {}, error ? ctx.t("error.load", { what: id, msg: error }) : ctx.air.list ? ctx.t("station.missing", { id }) : ctx.t("loading")));
        return;
      }
      const tz = ref.time_zone;
      const fmt = timeFormat(ctx.lang, tz);
      const fmtD = timeFormat(ctx.lang, tz, true);
      const other = ctx.lang === "zh" ? ref.name.en : ref.name.zh;
      const title = el("h2", { id: "station-title" }, ctx.text(ref.name, ref.id),
        other && other !== ctx.text(ref.name) ? el("span", { class: "other-name", lang: ctx.lang === "zh" ? "en" : "zh-CN" }, " " + other) : null);
      const place = el("p", { class: "place" }, ctx.text(ref.point_name, ref.point), ref.address ? " · " + ref.address : "");

      const now = cur ? el("section", { class: "now card", "aria-labelledby": "now-title" },
        el("h3", { id: "now-title" }, ctx.t("station.now")),
        el("p", { class: "now-badge" }, badge(ctx, cur, true)),
        el("p", {}, ctx.t("station.primary", { p: primaryText(ctx, cur) })),
        cur.period ? el("p", { class: "period" }, ctx.t("station.period", { start: fmt.format(new Date(cur.period.start)), end: fmt.format(new Date(cur.period.end)), date: dateFormat(ctx.lang, tz).format(new Date(cur.period.end)), zone: tz })) : null,
        cur.completeness ? el("p", {}, ctx.t("station.completeness", cur.completeness)) : null,
        cur.status && cur.status.state !== "online" ? el("p", { class: "state state-" + cur.status.state }, ctx.t("status." + cur.status.state)) : null) : null;
      const advice = el("section", { class: "advice card", "aria-labelledby": "station-advice" },
        el("h3", { id: "station-advice" }, ctx.t("advice.title")), adviceBlock(ctx, cur));

      box.replaceChildren(back, title, place, el("div", { class: "station-grid" }, now, advice), charts(ref, fmt, fmtD), valuesTable(cur, fmt));
    }

    function charts(ref, fmt, fmtD) {
      const sec = el("section", { class: "charts card", "aria-labelledby": "charts-title" }, el("h3", { id: "charts-title" }, ctx.t("station.chart")));
      if (!history) {
        sec.append(el("p", {}, error ? ctx.t("error.load", { what: id, msg: error }) : ctx.t("loading")));
        return sec;
      }
      const items = history.items;
      if (!items.length) {
        sec.append(el("p", {}, ctx.t("station.nohistory")));
        return sec;
      }
      const width = Math.min(box.clientWidth || 600, 1400) - 30;
      const end = fmtD.format(new Date(items[items.length - 1].period.end));
      const describe = (what, vs) => {
        const ok = vs.filter((v) => v !== null);
        return ctx.t("station.chart.desc", { what, end, min: ok.length ? number(ctx.lang, Math.min(...ok)) : ctx.t("none"), max: ok.length ? number(ctx.lang, Math.max(...ok)) : ctx.t("none"), missing: vs.length - ok.length });
      };
      const aqiPts = items.map((r) => ({ t: new Date(r.period.end), v: r.aqi, colour: r.color, label: levelText(ctx, r) }));
      sec.append(el("figure", { class: "chart-aqi", id: "chart-aqi" },
        el("figcaption", {}, ctx.t("station.chart.aqi")),
        chart(aqiPts, { kind: "bars", width, height: 200, title: ctx.t("station.chart.aqi"), desc: describe("AQI", aqiPts.map((p) => p.v)), timeFmt: fmt, numFmt: (v) => number(ctx.lang, v, 0) })));
      const small = el("div", { class: "small-charts" });
      const cols = [];
      for (const p of order) {
        const first = items.map((r) => seriesValue(r, p)).find((v) => v);
        if (!first) continue;
        const pts = items.map((r) => {
          const v = seriesValue(r, p);
          return { t: new Date(r.period.end), v: v ? v.concentration : null };
        });
        const label = `${pollutants[p]} (${ctx.t("avg." + first.averaging)})`;
        cols.push({ p, label, unit: first.unit, pts });
        small.append(el("figure", { class: "chart-pollutant", "data-pollutant": p },
          el("figcaption", {}, label, " · ", first.unit),
          chart(pts, { kind: "line", width: Math.max(260, Math.min(width, 440)), height: 150, title: label, unit: first.unit, desc: describe(label, pts.map((x) => x.v)), timeFmt: fmt, numFmt: (v) => number(ctx.lang, v, 2) })));
      }
      sec.append(small);
      // The same numbers as a table, for those who cannot see the charts.
      sec.append(el("details", { class: "chart-data" }, el("summary", {}, ctx.t("station.data")),
        el("div", { class: "table-wrap" }, el("table", {},
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, ctx.t("col.hour")), el("th", { scope: "col" }, "AQI"),
            cols.map((c) => el("th", { scope: "col" }, `${c.label} ${c.unit}`)))),
          el("tbody", {}, items.map((r, i) => el("tr", {},
            el("th", { scope: "row" }, fmtD.format(new Date(r.period.end))),
            el("td", {}, levelText(ctx, r)),
            cols.map((c) => el("td", {}, number(ctx.lang, c.pts[i].v, 2))))))))));
      return sec;
    }

    function valuesTable(cur, fmt) {
      if (!cur || !cur.values) return null;
      return el("section", { class: "values card", "aria-labelledby": "values-title" },
        el("h3", { id: "values-title" }, ctx.t("station.values")),
        el("div", { class: "table-wrap" }, el("table", { class: "values-table" },
          el("thead", {}, el("tr", {}, ["col.pollutant", "col.averaging", "col.concentration", "col.iaqi", "col.period"].map((k) => el("th", { scope: "col" }, ctx.t(k))))),
          el("tbody", {}, cur.values.map((v) => el("tr", { "data-key": v.key },
            el("th", { scope: "row" }, pollutants[v.pollutant] || v.pollutant),
            el("td", {}, ctx.t("avg." + v.averaging)),
            el("td", {}, v.concentration === null ? ctx.t("reason." + (v.reason || "no_data")) : `${number(ctx.lang, v.concentration, 3)} ${v.unit}`),
            el("td", {}, v.iaqi === null ? ctx.t("none") : String(v.iaqi)),
            el("td", {}, `${fmt.format(new Date(v.period.start))}–${fmt.format(new Date(v.period.end))}`)))))));
    }

    render();
    load();
    let reloadTimer = null;
    const onResize = () => {
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(render, 200);
    };
    window.addEventListener("resize", onResize);
    return {
      refresh(what, arg) {
        if (what === "standard" || (what === "entry" && arg?.station.id === id)) {
          load(); // a new hour, or another standard: new history
          return;
        }
        render();
      },
      unmount() {
        loading?.abort();
        clearTimeout(reloadTimer);
        window.removeEventListener("resize", onResize);
      },
    };
  },
};
