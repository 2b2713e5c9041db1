// Small helpers shared by the page's views. No framework: elements are
// built with el() and never from HTML strings, so that no text from the
// API is ever parsed as markup.

/**
 * el creates an element. attrs sets attributes (a value of null or false
 * leaves one out; "class" and "data-*" are ordinary attributes; a
 * function-valued "on*" key adds an event listener). Children may be
 * strings, nodes, or arrays of them; null and false are skipped.
 */
export function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  append(e, kids);
  return e;
}

const svgNS = "http://www.w3.org/2000/svg";

/** svg creates an SVG element, as el() does. */
export function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(svgNS, tag);
  setAttrs(e, attrs);
  append(e, kids);
  return e;
}

function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      e.addEventListener(k.slice(2), v);
    } else {
      e.setAttribute(k, v === true ? "" : String(v));
    }
  }
}

function append(e, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    e.append(k instanceof Node ? k : String(k));
  }
}

/**
 * pick returns the text of a {zh, en} object in lang, falling back to the
 * other language, then to fallback.
 */
export function pick(t, lang, fallback = "") {
  if (!t) return fallback;
  return (lang === "zh" ? t.zh || t.en : t.en || t.zh) || fallback;
}

/** Problem is an API error, with the problem+json detail when there is one. */
export class Problem extends Error {}

/**
 * getJSON fetches a JSON resource. It revalidates with the server
 * (cache: "no-cache" sends If-None-Match), so that a reload after a
 * live update never shows a cached older answer.
 */
export async function getJSON(url, signal) {
  const res = await fetch(url, { cache: "no-cache", signal, headers: { Accept: "application/json" } });
  if (!res.ok) {
    let detail = res.status + " " + res.statusText;
    try {
      const p = await res.json();
      if (p.detail) detail = p.detail;
    } catch { /* not JSON */ }
    throw new Problem(detail);
  }
  return res.json();
}

/**
 * inkFor returns the text colour, black or white, that reads best on the
 * background colour bg ("#RRGGBB"), by WCAG relative luminance.
 */
export function inkFor(bg) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(bg || "");
  if (!m) return "#000000";
  const lin = (h) => {
    const c = parseInt(h, 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const L = 0.2126 * lin(m[1]) + 0.7152 * lin(m[2]) + 0.0722 * lin(m[3]);
  // Contrast with black is (L+0.05)/0.05, with white 1.05/(L+0.05).
  return (L + 0.05) / 0.05 >= 1.05 / (L + 0.05) ? "#000000" : "#FFFFFF";
}

/**
 * paint colours e with a level colour and its legible ink. It uses the
 * CSSOM, which the Content-Security-Policy allows, not a style attribute,
 * which it does not.
 */
export function paint(e, colour) {
  if (!colour) {
    e.classList.add("no-level");
    return e;
  }
  e.style.backgroundColor = colour;
  e.style.color = inkFor(colour);
  return e;
}

/** timeFormat formats times as HH:MM in the time zone tz. */
export function timeFormat(lang, tz, withDate) {
  const opts = { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: tz || "Asia/Shanghai" };
  if (withDate) Object.assign(opts, { month: "2-digit", day: "2-digit" });
  try {
    return new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-GB", opts);
  } catch {
    delete opts.timeZone; // an unknown zone: the browser's own
    return new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-GB", opts);
  }
}

/** dateFormat formats dates as YYYY-MM-DD (en) or YYYY年M月D日 (zh) in tz. */
export function dateFormat(lang, tz) {
  const opts = { year: "numeric", month: lang === "zh" ? "long" : "2-digit", day: "2-digit", timeZone: tz || "Asia/Shanghai" };
  try {
    return new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-CA", opts);
  } catch {
    delete opts.timeZone;
    return new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-CA", opts);
  }
}

/** number formats a number in lang, with at most digits fraction digits. */
export function number(lang, v, digits = 1) {
  if (v === null || v === undefined) return "—";
  return new Intl.NumberFormat(lang === "zh" ? "zh-CN" : "en-GB", { maximumFractionDigits: digits }).format(v);
}
