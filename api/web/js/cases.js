// The cases tab: the complaint queue's public disclosure, from
// /api/v1/disclosure/cases. By month, grid cell and category: cases
// received, each deadline met on time or missed, the median time to
// resolve and the ratings; and each service point's yearly share of poor
// ratings, flagged in words above the level at which the service-point
// rules call its head in. The statistics are anonymous: the API gives no
// personal data and no place finer than a grid cell, and this tab shows
// nothing else.

import { el, getJSON, number, timeFormat, dateFormat } from "./util.js";
import { addTexts } from "./i18n.js";

addTexts({
  en: {
    "tab.cases": "Cases",
    "cases.title": "Complaints and cases: public statistics",
    "cases.caption": "Complaints from the public and cases opened by alerts, by month, grid cell and category. Anonymous: no names, phone numbers, e-mail addresses or exact places.",
    "cases.generated": "As of {time} ({zone}).",
    "cases.points": "Service points: poor ratings by year",
    "cases.points.caption": "Each service point's share of poor ratings in a year. Above {flag} the service-point rules call the point's head in.",
    "cases.points.none": "No case has been rated yet.",
    "cases.col.point": "Service point",
    "cases.col.year": "Year",
    "cases.col.poor": "Poor / rated",
    "cases.col.rate": "Poor-rating rate, against {flag}",
    "cases.flagged": "⚠ above {flag}: the point's head is called in",
    "cases.within": "✓ within {flag}",
    "cases.groups": "By month, grid cell and category",
    "cases.groups.none": "No cases yet.",
    "cases.group.caption": "Deadlines of the cases received in {month}, {cat}, {grid}",
    "cases.received": "Received",
    "cases.overdue_cases": "With a deadline missed",
    "cases.resolved": "Resolved",
    "cases.median": "Median time to resolve",
    "cases.hours": "hours",
    "cases.median.none": "none resolved",
    "cases.ratings": "Ratings",
    "cases.col.deadline": "Deadline",
    "cases.col.on_time": "Met on time",
    "cases.col.overdue": "Overdue",
    "cases.deadline.enter": "Entered (1 hour)",
    "cases.deadline.contact": "Complainant contacted (24 hours)",
    "cases.deadline.forward": "Forwarded to enforcement (1 working day)",
    "cases.deadline.feedback": "Feedback (3 working days; complex cases 7)",
    "cases.deadline.recheck": "Poor rating rechecked (48 hours)",
    "cases.rating.good": "good",
    "cases.rating.average": "average",
    "cases.rating.poor": "poor",
    "cases.cat.air": "Air",
    "cases.cat.water": "Water",
    "cases.cat.noise": "Noise",
    "cases.cat.other": "Other",
  },
  zh: {
    "tab.cases": "案件公开",
    "cases.title": "投诉与案件办理情况公开",
    "cases.caption": "群众投诉和告警生成的案件，按月份、网格和类别统计。匿名统计：不含姓名、电话、电子邮箱或具体位置。",
    "cases.generated": "统计时间：{time}（{zone}）。",
    "cases.points": "各服务点年度差评率",
    "cases.points.caption": "各服务点一年内差评占评价的比例。超过 {flag} 时，按服务点规定约谈该服务点负责人。",
    "cases.points.none": "尚无已评价的案件。",
    "cases.col.point": "服务点",
    "cases.col.year": "年份",
    "cases.col.poor": "差评数 / 评价数",
    "cases.col.rate": "差评率（对照 {flag}）",
    "cases.flagged": "⚠ 超过 {flag}：约谈服务点负责人",
    "cases.within": "✓ 未超过 {flag}",
    "cases.groups": "按月份、网格和类别",
    "cases.groups.none": "暂无案件。",
    "cases.group.caption": "{month}“{cat}”类案件（{grid}）各时限办理情况",
    "cases.received": "受理",
    "cases.overdue_cases": "有超时限",
    "cases.resolved": "已办结",
    "cases.median": "办结时间中位数",
    "cases.hours": "小时",
    "cases.median.none": "暂无办结",
    "cases.ratings": "评价",
    "cases.col.deadline": "时限",
    "cases.col.on_time": "按时",
    "cases.col.overdue": "超时",
    "cases.deadline.enter": "登记（1 小时内）",
    "cases.deadline.contact": "联系投诉人（24 小时内）",
    "cases.deadline.forward": "转交执法（1 个工作日内）",
    "cases.deadline.feedback": "反馈（3 个工作日内，复杂案件 7 个）",
    "cases.deadline.recheck": "差评复核（48 小时内）",
    "cases.rating.good": "满意",
    "cases.rating.average": "基本满意",
    "cases.rating.poor": "不满意",
    "cases.cat.air": "大气",
    "cases.cat.water": "水",
    "cases.cat.noise": "噪声",
    "cases.cat.other": "其他",
  },
});

const ratings = ["good", "average", "poor"];

/** monthText is a YYYY-MM month in the current language. */
export function monthText(lang, m) {
  const [y, mo] = m.split("-");
  return lang === "zh" ? `${y}年${Number(mo)}月` : m;
}

/** percent formats a share (0.05) as a percentage (5%). */
function percent(lang, v) {
  return number(lang, v * 100, 1) + "%";
}

function catText(ctx, c) {
  const k = "cases.cat." + c;
  const s = ctx.t(k);
  return s === k ? c : s;
}

/**
 * pointName is a service point's name from the live air list when one of
 * its stations is there, else its id.
 */
function pointName(ctx, id) {
  const s = ctx.air.stations.find((e) => e.station.point === id);
  return s ? ctx.text(s.station.point_name, id) : id;
}

/** num is a number in a span marked with its key (data-k), as the tests find it. */
function num(k, v) {
  return el("span", { "data-k": k }, String(v));
}

function pointsTable(ctx, data) {
  const flag = percent(ctx.lang, data.poor_rate_flag);
  const cap = ctx.t("cases.points.caption", { flag });
  if (!data.points.length) return [el("p", { class: "caption" }, cap), el("p", { id: "cases-points-none" }, ctx.t("cases.points.none"))];
  return [el("p", { class: "caption", id: "cases-points-caption" }, cap), el("div", { class: "table-wrap" }, el("table", { class: "cases-points", id: "cases-points" },
    el("caption", { class: "visually-hidden" }, ctx.t("cases.points")),
    el("thead", {}, el("tr", {}, ["cases.col.point", "cases.col.year", "cases.col.poor", "cases.col.rate"].map((k) =>
      el("th", { scope: "col" }, ctx.t(k, { flag }))))),
    el("tbody", {}, data.points.map((p) => {
      const name = pointName(ctx, p.point);
      return el("tr", { "data-point": p.point, "data-year": p.year, "data-flagged": String(p.flagged), class: p.flagged ? "flagged" : null },
        el("th", { scope: "row" }, name, name !== p.point ? el("span", { class: "address" }, p.point) : null),
        el("td", {}, num("year", p.year)),
        el("td", {}, num("poor", p.poor), " / ", num("rated", p.rated)),
        el("td", {}, el("span", { "data-k": "rate" }, percent(ctx.lang, p.poor_rate)),
          el("span", { "data-k": "flag", class: "poor-flag " + (p.flagged ? "over" : "within") },
            ctx.t(p.flagged ? "cases.flagged" : "cases.within", { flag }))));
    }))))];
}

function group(ctx, data, g, i) {
  const id = "cases-group-" + i;
  const month = monthText(ctx.lang, g.month);
  const cat = catText(ctx, g.category);
  const median = g.median_hours_to_resolve;
  const fact = (k, v) => [el("dt", {}, ctx.t("cases." + k)), el("dd", {}, v)];
  return el("section", { class: "case-group", "data-month": g.month, "data-grid": g.grid, "data-category": g.category, "aria-labelledby": id },
    el("h4", { id }, el("time", { datetime: g.month }, month), " · ", cat),
    el("p", { class: "address grid-name" }, g.grid),
    el("dl", { class: "case-facts" },
      fact("received", num("received", g.received)),
      fact("overdue_cases", num("overdue_cases", g.overdue_cases)),
      fact("resolved", num("resolved", g.resolved)),
      fact("median", median === null || median === undefined
        ? el("span", { "data-k": "median", "data-none": "" }, ctx.t("cases.median.none"))
        : [el("span", { "data-k": "median" }, number(ctx.lang, median, 1)), " ", ctx.t("cases.hours")]),
      fact("ratings", ratings.flatMap((r, j) => [j ? ", " : "", ctx.t("cases.rating." + r) + " ", num("rating-" + r, g.ratings?.[r] ?? 0)]))),
    el("div", { class: "table-wrap" }, el("table", { class: "case-deadlines" },
      el("caption", { class: "visually-hidden" }, ctx.t("cases.group.caption", { month, cat, grid: g.grid })),
      el("thead", {}, el("tr", {}, ["cases.col.deadline", "cases.col.on_time", "cases.col.overdue"].map((k) => el("th", { scope: "col" }, ctx.t(k))))),
      el("tbody", {}, data.deadlines.map((d) => el("tr", { "data-deadline": d },
        el("th", { scope: "row" }, ctx.t("cases.deadline." + d)),
        el("td", {}, num("on_time", g.on_time?.[d] ?? 0)),
        el("td", { class: (g.overdue?.[d] ?? 0) > 0 ? "late" : null }, num("overdue", g.overdue?.[d] ?? 0))))))));
}

export const casesView = {
  id: "cases",
  label: "tab.cases",
  mount(panel, ctx) {
    let data = null, error = null;
    const ctl = new AbortController();
    const box = el("section", { class: "card cases", "aria-labelledby": "cases-title" });
    panel.append(box);

    function render() {
      const head = el("h2", { id: "cases-title" }, ctx.t("cases.title"));
      if (!data) {
        box.dataset.state = error ? "error" : "loading";
        box.replaceChildren(head, el("p", {}, error ? ctx.t("error.load", { what: "/api/v1/disclosure/cases", msg: error }) : ctx.t("loading")));
        return;
      }
      const when = new Date(data.generated_at);
      const time = dateFormat(ctx.lang, data.time_zone).format(when) + " " + timeFormat(ctx.lang, data.time_zone).format(when);
      box.replaceChildren(head,
        el("p", { class: "caption" }, ctx.t("cases.caption"), " ",
          ctx.t("cases.generated", { time, zone: data.time_zone })),
        el("section", { "aria-labelledby": "cases-points-title" },
          el("h3", { id: "cases-points-title" }, ctx.t("cases.points")), ...pointsTable(ctx, data)),
        el("section", { "aria-labelledby": "cases-groups-title", id: "cases-groups" },
          el("h3", { id: "cases-groups-title" }, ctx.t("cases.groups")),
          data.groups.length ? data.groups.map((g, i) => group(ctx, data, g, i)) : el("p", {}, ctx.t("cases.groups.none"))));
      box.dataset.state = "loaded";
    }

    getJSON("api/v1/disclosure/cases", ctl.signal).then((b) => { data = b; render(); }, (e) => { if (e.name !== "AbortError") { error = e.message; render(); } });
    render();
    return {
      refresh(what) {
        // The points' names come from the air list; nothing else changes.
        if (what === "lang" || what === "air") render();
      },
      unmount: () => ctl.abort(),
    };
  },
};
