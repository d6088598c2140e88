// 统计分析: the events of the user's jurisdiction (within the page's time window) as charts —
// by major class and by state, the trend by day/week/month, the top-N districts/streets/
// communities/grids, and the handling performance (on-time rate) — from /api/v1/events/stats
// and /api/v1/events/performance. Drawn with ECharts (npm, served under /static/vendor/).
import { STATE_COLOURS } from "../center-layers.js"; // the map's colours of the states
import { api, toast, userInfo } from "../core.js";
import { fill, h, loadVocabulary } from "./util.js";

const echarts = window.echarts; // the UMD build, loaded by center.html (echarts from npm, pinned)
const TOP = 10;
const RANK_LEVELS = { district: "区县", subdistrict: "街道（乡镇）", community: "社区（村）", grid: "单元网格" };
const PERF_GROUPS = { district: "区县", subdistrict: "街道（乡镇）", department: "处置部门" };
const TRENDS = { day: "按日", week: "按周", month: "按月" };

/** The ranking a user sees first: one level below their jurisdiction. */
function defaultRankLevel() {
  const where = userInfo()?.jurisdiction || {};
  if (where.grids?.length && !where.region) return "grid";
  const code = String(where.region || "");
  if (!code || where.nationwide || code.endsWith("00000000")) return "district";
  if (code.endsWith("000000")) return "subdistrict";
  if (code.endsWith("000")) return "community";
  return "grid";
}

function timeWindow(state) {
  const out = {};
  for (const key of ["from", "to"]) if (state.page[key]) out[key] = state.page[key];
  return out;
}

function windowLabel(params) {
  if (params.from && params.to) return `${params.from} 至 ${params.to}`;
  if (params.from) return `${params.from} 起`;
  if (params.to) return `${params.to} 前`;
  return "全部时间";
}

function select(name, choices, value) {
  return h(
    "select",
    { name },
    Object.entries(choices).map(([k, v]) => h("option", { value: k, selected: k === value }, v)),
  );
}

export function initStats({ root, state }) {
  const body = root.querySelector("[data-role=stats]");
  const controls = {
    trend: select("trend", TRENDS, "day"),
    rank: select("rank", RANK_LEVELS, defaultRankLevel()),
    perf: select("perf", PERF_GROUPS, "district"),
  };
  const scopeEl = h("p.cgp-muted", { "data-role": "stats-scope" });
  const totalEl = h("b", { "data-role": "stats-total" }, "—");
  const openEl = h("b", { "data-role": "stats-open" }, "—");
  const overdueEl = h("b", { "data-role": "stats-overdue" }, "—");
  const boxes = {};
  const chart = (key, title, control = null) => {
    boxes[key] = h("div.cgp-chart", { "data-chart": key });
    return h("section.cgp-chart-card", {}, h("header", {}, h("h4", {}, title), control), boxes[key]);
  };
  const perfTable = h("table.cgp-table", { "data-role": "perf-table" });
  fill(
    body,
    scopeEl,
    h(
      "div.cgp-kpis",
      {},
      h("div.cgp-kpi", {}, h("span", {}, "事件总数"), totalEl),
      h("div.cgp-kpi", {}, h("span", {}, "在办"), openEl),
      h("div.cgp-kpi.cgp-kpi-red", {}, h("span", {}, "超时在办"), overdueEl),
    ),
    chart("major", "按大类"),
    chart("state", "按状态"),
    chart("trend", "趋势", controls.trend),
    chart("rank", `排名（前 ${TOP}）`, controls.rank),
    chart("perf", "处置按期率", controls.perf),
    perfTable,
  );

  const charts = {};
  let stale = true;
  let seq = 0;
  let shownWindow = null;

  function instance(key) {
    if (!charts[key]) charts[key] = echarts.init(boxes[key], null, { locale: "ZH", renderer: "canvas" });
    return charts[key];
  }

  function draw(key, option) {
    const c = instance(key);
    c.setOption(
      { animation: false, tooltip: { trigger: "item" }, grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true }, ...option },
      true,
    );
    boxes[key].dataset.ready = "true";
  }

  function bars(rows, { horizontal = false, colourOf = null, name = "数量" } = {}) {
    const labels = rows.map((r) => r.name || r.key || r.period);
    const data = rows.map((r) => (colourOf ? { value: r.count, itemStyle: { color: colourOf(r) } } : r.count));
    const category = { type: "category", data: labels, axisLabel: { interval: 0, rotate: horizontal ? 0 : 30 } };
    const value = { type: "value", minInterval: 1 };
    return {
      tooltip: { trigger: "axis" },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? { ...category, inverse: true } : value,
      series: [{ type: "bar", name, data, label: { show: true, position: horizontal ? "right" : "top" } }],
    };
  }

  async function load() {
    const mine = ++seq;
    stale = false;
    const span = timeWindow(state);
    shownWindow = JSON.stringify(span);
    scopeEl.textContent = `统计范围：本辖区（${userInfo()?.jurisdiction?.label || "—"}），${windowLabel(span)}`;
    body.classList.add("cgp-loading");
    const stats = (by, extra = {}) => api("/api/v1/events/stats", { params: { ...span, by, ...extra } });
    const count = (extra) => api("/api/v1/events", { params: { ...span, count: "true", ...extra } });
    try {
      const [vocab, major, byState, trend, rank, perf, overdue] = await Promise.all([
        loadVocabulary(),
        stats("major"),
        stats("state"),
        stats(controls.trend.value),
        stats(controls.rank.value, { top: TOP }),
        api("/api/v1/events/performance", { params: { ...span, by: controls.perf.value, top: TOP } }),
        count({ overdue: "true" }),
      ]);
      if (mine !== seq) return;
      const open = new Set(vocab.states.filter((s) => s.open).map((s) => s.state));
      totalEl.textContent = String(byState.total);
      openEl.textContent = String(byState.results.filter((r) => open.has(r.key)).reduce((a, r) => a + r.count, 0));
      overdueEl.textContent = String(overdue.count);

      // event and component classes share names (市容环境): the kind tells them apart
      const kindOf = Object.fromEntries(vocab.majors.map((m) => [m.code, m.kind_name]));
      const slices = major.results.map((r) => ({ name: `${r.name || r.key}（${kindOf[r.key] || ""}）`, value: r.count }));
      draw("major", {
        legend: {
          type: "scroll",
          orient: "vertical",
          right: 0,
          top: "middle",
          formatter: (name) => `${name}  ${slices.find((d) => d.name === name)?.value ?? ""}`,
        },
        series: [
          {
            type: "pie",
            name: "按大类",
            radius: ["42%", "72%"],
            center: ["28%", "50%"],
            data: slices,
            label: { show: false, position: "center" },
            emphasis: { label: { show: true, formatter: "{b}\n{c} 件（{d}%）", fontSize: 11 } },
          },
        ],
      });
      draw("state", bars(byState.results, { colourOf: (r) => STATE_COLOURS[r.key]?.[1] || "#5470c6" }));
      draw("trend", {
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: trend.results.map((r) => r.period), boundaryGap: false },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: "line", name: "上报数", data: trend.results.map((r) => r.count), areaStyle: { opacity: 0.15 }, smooth: true }],
      });
      draw("rank", bars(rank.results, { horizontal: true }));
      const rows = perf.results;
      draw("perf", {
        tooltip: { trigger: "axis", valueFormatter: (v) => (v == null ? "—" : `${v}%`) },
        xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
        yAxis: { type: "category", inverse: true, data: rows.map((r) => r.name || String(r.key)), axisLabel: { interval: 0 } },
        series: [
          {
            type: "bar",
            name: "按期率",
            data: rows.map((r) => (r.on_time_rate == null ? null : Math.round(r.on_time_rate * 1000) / 10)),
            label: { show: true, position: "right", formatter: "{c}%" },
          },
        ],
      });
      const hours = (v) => (v == null ? "—" : v.toFixed(1));
      fill(
        perfTable,
        h(
          "thead",
          {},
          h("tr", {}, h("th", {}, PERF_GROUPS[controls.perf.value]), h("th", {}, "完成"), h("th", {}, "按期"), h("th", {}, "中位时长(时)"), h("th", {}, "超时在办")),
        ),
        h(
          "tbody",
          {},
          rows.map((r) =>
            h("tr", {}, h("td", {}, r.name || String(r.key)), h("td", {}, r.completed), h("td", {}, r.on_time), h("td", {}, hours(r.median_hours)), h("td", {}, r.overdue)),
          ),
        ),
      );
      body.dataset.loaded = String(mine);
    } catch (err) {
      if (mine !== seq) return;
      stale = true;
      toast(err.message || "统计加载失败", "error");
    } finally {
      if (mine === seq) body.classList.remove("cgp-loading");
    }
  }

  const visible = () => !root.hidden && root.offsetParent !== null;
  for (const c of Object.values(controls)) c.addEventListener("change", () => load());
  state.addEventListener("changed", () => {
    // only the time window changes the jurisdiction's figures (not the view, not the list's filters)
    if (JSON.stringify(timeWindow(state)) === shownWindow) return;
    stale = true;
    if (visible()) load();
  });
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  return {
    shown() {
      if (stale) load();
      else Object.values(charts).forEach((c) => c.resize());
    },
    refresh() {
      stale = true;
      if (visible()) load();
    },
  };
}
