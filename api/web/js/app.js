// The public page: a shell of tabs over hash routes (#/air, #/water,
// #/noise, #/cases, #/station/{id}), the language, the chosen standard, and the
// current AQI of every air station kept live over server-sent events.
//
// Adding a tab: write a module that exports a view (see air.js: an id, a
// label key, and mount(panel, ctx) returning {refresh, unmount}), import it
// here and append it to tabs. Its texts can come with it (addTexts).

import { translate, addTexts, languages } from "./i18n.js";
import { el, getJSON, pick } from "./util.js";
import { airView } from "./air.js";
import { stationView } from "./station.js";
import { waterView } from "./water.js";
import { noiseView } from "./noise.js";
import { casesView } from "./cases.js";

/** tabs are the page's top-level views, in tab order. */
export const tabs = [airView, waterView, noiseView, casesView];

const storeKey = "envmon.lang";

function initialLang() {
  try {
    const saved = localStorage.getItem(storeKey);
    if (saved && languages[saved]) return saved;
  } catch { /* storage refused */ }
  const prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  for (const p of prefs) {
    const l = String(p).toLowerCase();
    if (l.startsWith("zh")) return "zh";
    if (l.startsWith("en")) return "en";
  }
  return "en";
}

/**
 * Air is the current AQI of every air station, as /api/v1/aqi gives it,
 * kept current by the stream.
 */
class Air {
  constructor() {
    this.list = null; // the last /api/v1/aqi body
    this.byId = new Map();
    this.error = null;
  }
  set(body) {
    this.list = body;
    this.byId = new Map(body.stations.map((s) => [s.station.id, s]));
  }
  /** upsert applies one stream event's station entry. */
  upsert(entry) {
    if (!this.list) return;
    const i = this.list.stations.findIndex((s) => s.station.id === entry.station.id);
    if (i >= 0) this.list.stations[i] = entry;
    else this.list.stations.push(entry);
    this.list.count = this.list.stations.length;
    this.byId.set(entry.station.id, entry);
  }
  get stations() {
    return this.list ? this.list.stations : [];
  }
}

const ctx = {
  lang: initialLang(),
  standard: "",
  air: new Air(),
  listeners: new Map(),
  /** t translates a page text into the current language. */
  t(key, args) {
    return translate(ctx.lang, key, args);
  },
  /** text picks the current language of an API {zh, en} text. */
  text(t, fallback) {
    return pick(t, ctx.lang, fallback);
  },
  /** on registers fn for an event: "lang", "air" (all changed) or "entry" (one station). */
  on(event, fn) {
    if (!ctx.listeners.has(event)) ctx.listeners.set(event, new Set());
    ctx.listeners.get(event).add(fn);
    return () => ctx.listeners.get(event).delete(fn);
  },
  emit(event, arg) {
    for (const fn of ctx.listeners.get(event) || []) {
      try {
        fn(arg);
      } catch (e) {
        console.error(e);
      }
    }
  },
  /** query is the standard parameter for API URLs: "" or "standard=…". */
  query(extra) {
    const q = new URLSearchParams(extra || {});
    if (ctx.standard) q.set("standard", ctx.standard);
    const s = q.toString();
    return s ? "?" + s : "";
  },
  /** announce says msg to screen readers, politely. */
  announce(msg) {
    const a = document.getElementById("announce");
    a.textContent = "";
    // A new text node after clearing makes screen readers speak it again.
    setTimeout(() => { a.textContent = msg; }, 50);
  },
  showError(msg) {
    document.getElementById("error").textContent = msg || "";
  },
  addTexts,
};

// ---- the stream and the AQI list ----

let stream = null;
let fetching = null; // the fetch of /api/v1/aqi in flight, if any
let buffered = []; // stream entries that arrived during that fetch

async function loadAir() {
  const ctl = new AbortController();
  fetching = ctl;
  buffered = [];
  try {
    const body = await getJSON("api/v1/aqi" + ctx.query(), ctl.signal);
    if (fetching !== ctl) return; // superseded
    ctx.air.set(body);
    for (const e of buffered) ctx.air.upsert(e); // newer than or as new as the fetch
    ctx.air.error = null;
    ctx.showError("");
  } catch (e) {
    if (e.name === "AbortError") return;
    ctx.air.error = e.message;
    ctx.showError(ctx.t("error.load", { what: "/api/v1/aqi", msg: e.message }));
  } finally {
    if (fetching === ctl) {
      fetching = null;
      buffered = [];
    }
  }
  ctx.emit("air");
}

function setLive(on) {
  const p = document.getElementById("live");
  p.dataset.state = on ? "on" : "off";
  p.textContent = ctx.t(on ? "live.on" : "live.off");
}

/**
 * connect opens the stream of the chosen standard. Every "hello" (the
 * first, and each after a reconnect) reloads the whole list, so that what
 * was missed while disconnected is not lost; "aqi" events update one
 * station each.
 */
function connect() {
  if (stream) stream.close();
  if (!("EventSource" in window)) {
    loadAir();
    return;
  }
  const es = new EventSource("api/v1/stream" + ctx.query());
  stream = es;
  es.addEventListener("hello", () => {
    if (stream !== es) return;
    setLive(true);
    loadAir();
  });
  es.addEventListener("aqi", (ev) => {
    if (stream !== es) return;
    let entry;
    try {
      entry = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (fetching) buffered.push(entry);
    ctx.air.upsert(entry);
    ctx.emit("entry", entry);
    const name = ctx.text(entry.station.name, entry.station.id);
    const level = entry.aqi === null ? ctx.t("reason." + (entry.reason || "no_data")) : `AQI ${entry.aqi} ${ctx.text(entry.category)}`;
    ctx.announce(ctx.t("live.update", { name, aqi: level }));
  });
  es.addEventListener("error", () => {
    if (stream === es) setLive(false);
  });
}

// ---- language ----

function applyLang() {
  const L = languages[ctx.lang];
  document.documentElement.lang = L.tag;
  document.title = ctx.t("title") + " · envmon";
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = ctx.t(e.dataset.i18n);
  const b = document.getElementById("lang-toggle");
  b.textContent = ctx.t("lang.button");
  b.lang = ctx.lang === "zh" ? "en" : "zh-CN";
  b.setAttribute("aria-label", ctx.t("lang.label"));
  document.querySelector('#standard option[value=""]').textContent = ctx.t("standard.default");
  document.getElementById("tablist").setAttribute("aria-label", ctx.t("tabs.label"));
  const live = document.getElementById("live");
  if (live.dataset.state) setLive(live.dataset.state === "on");
  renderTabs();
}

function setLang(lang) {
  ctx.lang = lang;
  try {
    localStorage.setItem(storeKey, lang);
  } catch { /* storage refused */ }
  applyLang();
  ctx.emit("lang");
}

// ---- routes and tabs ----

/** route parses location.hash: {view, id}. */
function route() {
  const h = location.hash.replace(/^#\/?/, "");
  const [first, ...rest] = h.split("/");
  if (first === "station" && rest.length) return { view: stationView, id: decodeURIComponent(rest.join("/")) };
  return { view: tabs.find((v) => v.id === first) || tabs[0] };
}

let mounted = null; // {view, id, handle}

function renderTabs() {
  const list = document.getElementById("tablist");
  if (!list.children.length) {
    list.append(...tabs.map((v) => el("button", {
      type: "button", role: "tab", id: "tab-" + v.id, "aria-controls": "panel", "data-tab": v.id,
      onclick: () => go("#/" + v.id),
      onkeydown: (ev) => tabKey(ev, v),
    })));
  }
  // Update the buttons in place, so that the focused one keeps focus.
  const r = route();
  const current = r.view === stationView ? airView : r.view;
  for (const v of tabs) {
    const b = document.getElementById("tab-" + v.id);
    const selected = v === current;
    b.textContent = ctx.t(v.label);
    b.setAttribute("aria-selected", selected ? "true" : "false");
    b.tabIndex = selected ? 0 : -1;
  }
}

// tabKey moves between tabs with the arrow, Home and End keys, as the
// WAI-ARIA tabs pattern does; Tab leaves the tab list.
function tabKey(ev, v) {
  const i = tabs.indexOf(v);
  let j = null;
  if (ev.key === "ArrowRight") j = (i + 1) % tabs.length;
  else if (ev.key === "ArrowLeft") j = (i - 1 + tabs.length) % tabs.length;
  else if (ev.key === "Home") j = 0;
  else if (ev.key === "End") j = tabs.length - 1;
  if (j === null) return;
  ev.preventDefault();
  go("#/" + tabs[j].id);
  document.getElementById("tab-" + tabs[j].id)?.focus();
}

function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function render() {
  if (mounted && location.hash && !location.hash.startsWith("#/")) return; // an in-page anchor, not a route
  const r = route();
  if (mounted && mounted.view === r.view && mounted.id === r.id) return;
  if (mounted) mounted.handle?.unmount?.();
  // A station's page belongs to the air tab.
  const tab = r.view === stationView ? airView : r.view;
  const panel = el("div", { role: "tabpanel", id: "panel", "aria-labelledby": "tab-" + tab.id, "data-view": r.view.id });
  document.getElementById("main").replaceChildren(panel);
  mounted = { view: r.view, id: r.id, handle: null };
  renderTabs();
  mounted.handle = r.view.mount(panel, ctx, r.id);
}

function refreshMounted(what, arg) {
  mounted?.handle?.refresh?.(what, arg);
}

// ---- start ----

function start() {
  ctx.on("lang", () => refreshMounted("lang"));
  ctx.on("air", () => refreshMounted("air"));
  ctx.on("entry", (e) => refreshMounted("entry", e));
  // The skip link focuses the content without changing the route.
  document.getElementById("skip-link").addEventListener("click", (ev) => {
    ev.preventDefault();
    document.getElementById("main").focus();
  });
  document.getElementById("lang-toggle").addEventListener("click", () => setLang(ctx.lang === "zh" ? "en" : "zh"));
  const sel = document.getElementById("standard");
  sel.addEventListener("change", () => {
    ctx.standard = sel.value;
    ctx.emit("standard");
    refreshMounted("standard");
    connect();
  });
  window.addEventListener("hashchange", () => {
    render();
    // Move focus to the new content so that keyboard and screen-reader
    // users land on it, as a page load would.
    if (document.activeElement?.getAttribute("role") !== "tab") document.getElementById("main").focus({ preventScroll: false });
  });
  applyLang();
  render();
  connect();
}

start();
