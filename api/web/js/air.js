// The air tab: the map, the health advice, "near me" and the sortable
// list of air stations, all from the current AQI (ctx.air), updated in
// place when a stream event arrives.

import { el, paint, getJSON, timeFormat, number } from "./util.js";
import { pollutants } from "./i18n.js";
import { createMap } from "./map.js";

/** levelText is the AQI number and level name of a station, or why it has none. */
export function levelText(ctx, e) {
  if (e.aqi === null || e.aqi === undefined) return ctx.t("reason." + (e.reason || "no_data"));
  return `${e.aqi} ${ctx.text(e.category)}`;
}

/**
 * badge is an AQI badge: the level colour behind the AQI number and the
 * level's name, so that the colour is never the only cue.
 */
export function badge(ctx, e, big) {
  const b = el("span", { class: "badge" + (big ? " big" : ""), "data-level": e.level ?? "", "data-color": e.color ?? "" });
  if (e.aqi === null || e.aqi === undefined) {
    b.append(el("span", { class: "badge-level" }, ctx.t("reason." + (e.reason || "no_data"))));
    return paint(b, null);
  }
  b.append(el("span", { class: "badge-aqi" }, String(e.aqi)), " ", el("span", { class: "badge-level" }, ctx.text(e.category)));
  return paint(b, e.color);
}

/** primaryText names a report's primary pollutants. */
export function primaryText(ctx, e) {
  const ps = e.primary_pollutants || [];
  return ps.length ? ps.map((p) => pollutants[p] || p).join(", ") : ctx.t("none");
}

/** adviceBlock gives the health effects and measures of a report. */
export function adviceBlock(ctx, e) {
  if (!e || e.aqi === null) return el("p", {}, ctx.t("advice.none"));
  // A text the API gives only in the other language is marked as such,
  // so that a screen reader reads it in the right voice.
  const dd = (t) => {
    const own = t && (ctx.lang === "zh" ? t.zh : t.en);
    return el("dd", { lang: t && !own ? (ctx.lang === "zh" ? "en" : "zh-CN") : null }, ctx.text(t, ctx.t("none")));
  };
  return el("dl", { class: "advice-list" },
    el("dt", {}, ctx.t("advice.effects")), dd(e.health_effects),
    el("dt", {}, ctx.t("advice.measures")), dd(e.measures));
}

const columns = [
  { key: "name", label: "col.station", value: (ctx, e) => ctx.text(e.station.name, e.station.id) },
  { key: "place", label: "col.place", value: (ctx, e) => ctx.text(e.station.point_name, e.station.point) },
  { key: "aqi", label: "col.aqi", value: (ctx, e) => e.aqi, numeric: true },
  { key: "primary", label: "col.primary", value: (ctx, e) => primaryText(ctx, e) },
  { key: "time", label: "col.time", value: (ctx, e) => e.period?.end || "" },
];

export const airView = {
  id: "air",
  label: "tab.air",
  mount(panel, ctx) {
    const sort = { key: "aqi", dir: "descending" };
    let map = null;
    let near = null; // the last /api/v1/near answer

    const reportTime = el("p", { class: "report-time", id: "report-time" });
    const nearBtn = el("button", { type: "button", class: "btn", id: "near-me" });
    const nearBox = el("section", { class: "near card", id: "near", hidden: true, "aria-labelledby": "near-title" });
    const adviceBox = el("section", { class: "advice card", id: "advice", "aria-labelledby": "advice-title" });
    const mapBox = el("div", { id: "map", class: "map", role: "region" });
    const mapNote = el("p", { class: "map-note", id: "map-note" });
    const legend = el("section", { class: "legend card", id: "legend", "aria-labelledby": "legend-title" });
    const table = el("table", { class: "stations", id: "stations" });
    const listTitle = el("h2", { id: "list-title" });
    const mapTitle = el("h2", { id: "map-title", class: "visually-hidden" });

    panel.append(
      el("div", { class: "air-head" }, reportTime, nearBtn),
      el("div", { class: "air-grid" },
        el("section", { class: "map-wrap card", "aria-labelledby": "map-title" }, mapTitle, mapBox, mapNote),
        el("div", { class: "side" }, adviceBox, nearBox, legend)),
      el("section", { class: "list card", "aria-labelledby": "list-title" }, listTitle, el("div", { class: "table-wrap" }, table)),
    );

    let tilesFailed = false;
    // Leaflet measures its box: create the map once the panel is in the page.
    map = createMap(mapBox, {
      onTilesFailed: () => {
        tilesFailed = true;
        mapNote.textContent = ctx.t("map.tiles");
      },
    });
    if (!map) {
      mapBox.hidden = true;
    }

    nearBtn.addEventListener("click", () => findNear());

    function describe(e) {
      const name = ctx.text(e.station.name, e.station.id);
      const level = levelText(ctx, e);
      return { name, level, title: `${name}: ${e.aqi === null ? "" : "AQI "}${level}`, href: "#/station/" + encodeURIComponent(e.station.id), details: ctx.t("map.details") };
    }

    function sorted() {
      const col = columns.find((c) => c.key === sort.key);
      const dir = sort.dir === "ascending" ? 1 : -1;
      const coll = new Intl.Collator(ctx.lang === "zh" ? "zh-CN" : "en", { numeric: true });
      return [...ctx.air.stations].sort((a, b) => {
        const va = col.value(ctx, a), vb = col.value(ctx, b);
        // Stations without a value come last, whichever the direction.
        const na = va === null || va === "", nb = vb === null || vb === "";
        if (na !== nb) return na ? 1 : -1;
        let c = 0;
        if (!na) c = col.numeric ? va - vb : coll.compare(String(va), String(vb));
        if (c !== 0) return c * dir;
        return coll.compare(a.station.id, b.station.id); // ties: by id, always ascending
      });
    }

    function head() {
      return el("thead", {}, el("tr", {}, columns.map((c) => {
        const active = sort.key === c.key;
        const label = ctx.t(c.label);
        return el("th", { scope: "col", "aria-sort": active ? sort.dir : "none", class: "col-" + c.key },
          el("button", {
            type: "button", class: "sort", "data-sort": c.key,
            onclick: () => {
              if (sort.key === c.key) sort.dir = sort.dir === "ascending" ? "descending" : "ascending";
              else {
                sort.key = c.key;
                sort.dir = c.numeric ? "descending" : "ascending";
              }
              renderTable();
              table.querySelector(`button[data-sort="${c.key}"]`)?.focus();
            },
          }, label, el("span", { class: "sort-mark", "aria-hidden": "true" }, active ? (sort.dir === "ascending" ? " ▲" : " ▼") : " ⇅")));
      })));
    }

    function row(e) {
      const fmt = timeFormat(ctx.lang, e.station.time_zone);
      const name = ctx.text(e.station.name, e.station.id);
      const place = ctx.text(e.station.point_name, e.station.point);
      const state = e.status?.state || "unknown";
      return el("tr", { "data-station": e.station.id, "data-level": e.level ?? "", "data-aqi": e.aqi ?? "" },
        el("th", { scope: "row", class: "col-name" },
          el("a", { href: "#/station/" + encodeURIComponent(e.station.id), class: "station-link" }, name),
          state !== "online" ? el("span", { class: "state state-" + state }, " · " + ctx.t("status." + state)) : null,
          // On a phone the place column is hidden and the place shows here.
          el("span", { class: "place-inline" }, place, e.station.address ? " · " + e.station.address : "")),
        el("td", { class: "col-place" }, el("span", { class: "place-name" }, place),
          e.station.address ? el("span", { class: "address" }, e.station.address) : null),
        el("td", { class: "col-aqi" }, badge(ctx, e),
          e.primary_pollutants?.length ? el("span", { class: "primary-inline" }, ctx.t("station.primary", { p: primaryText(ctx, e) })) : null),
        el("td", { class: "col-primary" }, primaryText(ctx, e)),
        el("td", { class: "col-time" }, e.period ? el("time", { datetime: e.period.end, title: fmt.format(new Date(e.period.start)) + "–" + fmt.format(new Date(e.period.end)) }, fmt.format(new Date(e.period.end))) : ctx.t("none")));
    }

    function renderTable() {
      const list = ctx.air.stations;
      table.replaceChildren(
        el("caption", { class: "visually-hidden" }, ctx.t("list.caption")),
        head(),
        el("tbody", {}, list.length ? sorted().map(row) : el("tr", {}, el("td", { colspan: columns.length }, ctx.air.list ? ctx.t("none") : ctx.t("loading")))));
    }

    function renderAdvice() {
      const withAQI = ctx.air.stations.filter((e) => e.aqi !== null);
      let focus = null, headKey = "advice.worst";
      if (near && near.stations.length) {
        focus = ctx.air.byId.get(near.stations[0].station.id) || near.stations[0];
        headKey = "advice.nearest";
      } else if (withAQI.length) {
        focus = withAQI.reduce((a, b) => (b.aqi > a.aqi ? b : a));
      }
      adviceBox.replaceChildren(
        el("h2", { id: "advice-title" }, ctx.t("advice.title")),
        focus ? el("p", { class: "advice-for" }, ctx.t(headKey, { name: ctx.text(focus.station.name, focus.station.id) }), " ", badge(ctx, focus)) : null,
        adviceBlock(ctx, focus));
    }

    function renderLegend() {
      // The levels of the current standard, from the stations that have
      // one; the API gives each level's name and colour.
      const levels = new Map();
      for (const e of ctx.air.stations) if (e.level) levels.set(e.level, e);
      legend.hidden = levels.size === 0;
      legend.replaceChildren(el("h2", { id: "legend-title" }, ctx.t("legend.title")),
        el("ul", {}, [...levels.keys()].sort().map((l) => {
          const e = levels.get(l);
          return el("li", {}, paint(el("span", { class: "swatch", "aria-hidden": "true" }, String(l)), e.color), " ", ctx.text(e.category));
        })));
    }

    function renderNear() {
      if (!near) return;
      nearBox.hidden = false;
      nearBox.replaceChildren(el("h2", { id: "near-title" }, ctx.t("near.title")),
        el("ol", {}, near.stations.map((n) => {
          const e = ctx.air.byId.get(n.station.id) || n;
          return el("li", { "data-station": n.station.id },
            el("a", { href: "#/station/" + encodeURIComponent(n.station.id) }, ctx.text(n.station.name, n.station.id)),
            " · ", ctx.t("near.distance", { km: number(ctx.lang, n.distance_m / 1000, 1) }), " ", badge(ctx, e));
        })));
    }

    async function findNear() {
      nearBox.hidden = false;
      if (!navigator.geolocation) {
        nearBox.replaceChildren(el("p", {}, ctx.t("near.unsupported")));
        return;
      }
      nearBox.replaceChildren(el("p", {}, ctx.t("near.locating")));
      navigator.geolocation.getCurrentPosition(async (pos) => {
        try {
          near = await getJSON("api/v1/near" + ctx.query({ lat: pos.coords.latitude.toFixed(5), lon: pos.coords.longitude.toFixed(5), n: 3 }));
          renderNear();
          renderAdvice();
          ctx.announce(ctx.t("near.title") + ": " + near.stations.map((n) => ctx.text(n.station.name, n.station.id)).join(", "));
        } catch (e) {
          nearBox.replaceChildren(el("p", {}, ctx.t("near.denied", { msg: e.message })));
        }
      }, (err) => {
        nearBox.replaceChildren(el("p", {}, ctx.t("near.denied", { msg: err.message || err.code })));
      }, { timeout: 15000, maximumAge: 600000 });
    }

    function renderHead() {
      const l = ctx.air.list;
      if (l && l.stations.length) {
        const ends = l.stations.map((e) => e.period?.end).filter(Boolean).sort();
        const last = ends[ends.length - 1];
        const fmt = timeFormat(ctx.lang, l.stations[0].station.time_zone, true);
        reportTime.textContent = ctx.t("report.time", { time: last ? fmt.format(new Date(last)) : ctx.t("none"), n: l.count });
      } else {
        reportTime.textContent = ctx.air.error ? "" : ctx.t("loading");
      }
    }

    function renderAll() {
      listTitle.textContent = ctx.t("list.title");
      mapTitle.textContent = ctx.t("map.title");
      mapBox.setAttribute("aria-label", ctx.t("map.title"));
      nearBtn.textContent = ctx.t("near.button");
      if (!map) mapNote.textContent = ctx.t("map.none");
      else if (tilesFailed) mapNote.textContent = ctx.t("map.tiles");
      renderHead();
      renderAdvice();
      renderLegend();
      renderNear();
      renderTable();
      map?.setStations(ctx.air.stations, describe);
    }

    /** flash marks the row of a station that a live update changed. */
    function flash(id) {
      const tr = table.querySelector(`tr[data-station="${CSS.escape(id)}"]`);
      if (!tr) return;
      tr.classList.add("updated");
      setTimeout(() => tr.classList.remove("updated"), 4000);
    }

    renderAll();

    return {
      refresh(what, arg) {
        if (what === "standard") near = null;
        renderAll();
        if (what === "entry" && arg) flash(arg.station.id);
      },
      unmount() {
        map?.remove();
      },
    };
  },
};
