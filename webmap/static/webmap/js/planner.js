// 文明创建 (planners' view): civilization units by type and level (the "civilization" vector
// tiles), ring and bar charts (GET /api/v1/civilization/units/stats), the density choropleth by
// district — or by subdistrict for a district's planners — (GET /api/v1/civilization/density
// over the regions-* boundary tiles), and an assessment-site draw with its sites, reserves and
// balance (GET/POST /api/v1/civilization/draws). 导出 queues a folium map (export.js).
import { api, bboxOf, can, createMap, escapeHtml, toast, userInfo, vectorLayer } from "./core.js";
import { exportButton } from "./export.js";

const L = window.L;
const echarts = window.echarts;
const $ = (id) => document.getElementById(id);

const TYPES = { city: "文明城市", unit: "文明单位", village: "文明村镇", campus: "文明校园", community: "文明社区", family: "文明家庭" };
const LEVELS = { district: "区县级", city: "市级", provincial: "省级", national: "全国" };
const COLOURS = { city: "#d7263d", unit: "#2e86ab", village: "#1b998b", campus: "#f46036", community: "#8e44ad", family: "#c5a000" };
const RAMP = ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"];

// a district's planners rank and shade its subdistricts; everyone else districts
const region = userInfo()?.jurisdiction?.region || "";
const DISTRICT = /^\d{6}0{6}$/.test(region) && region.slice(4, 6) !== "00";
const LEVEL = DISTRICT ? "subdistrict" : "district";
const BOUNDARY_LAYER = DISTRICT ? "regions-street" : "regions-district";
$("ranking-title").textContent = DISTRICT ? "各街道单位数排名" : "各区县单位数排名";

const map = createMap($("planner-map"), { minimap: false });

// ------------------------------------------------------------------ filters
for (const [code, name] of Object.entries(TYPES)) {
  const label = document.createElement("label");
  label.innerHTML = `<input type="checkbox" value="${code}" checked><i style="display:inline-block;width:8px;height:8px;border-radius:4px;background:${COLOURS[code]}"></i>${name}`;
  $("unit-types").append(label);
}
for (const [code, name] of Object.entries(LEVELS)) $("unit-level").add(new Option(name, code));

function unitParams() {
  const boxes = [...$("unit-types").querySelectorAll("input")];
  const types = boxes.filter((b) => b.checked).map((b) => b.value);
  return {
    type: types.length === boxes.length ? "" : types.join(","),
    level: $("unit-level").value,
  };
}

// ------------------------------------------------------------------ density choropleth
let density = new Map(); // region code → row
let top = 0;
const measure = () => $("density-measure").value;
function shade(value) {
  if (!top || value == null) return "#f2efe9";
  return RAMP[Math.min(RAMP.length - 1, Math.floor((RAMP.length * value) / top))];
}
const choropleth = vectorLayer(BOUNDARY_LAYER, {
  style: (props) => {
    const row = density.get(props.code);
    if (!row) return null; // outside the jurisdiction's figures
    return {
      color: "#555", weight: 1.2, fill: true, fillColor: shade(row[measure()]), fillOpacity: 0.55,
      label: props.name, labelKey: props.code,
    };
  },
  zIndex: 2,
});

function legend() {
  const unit = measure() === "per_10k" ? "个/万人" : "个/平方公里";
  const step = top / RAMP.length;
  $("density-legend").innerHTML = RAMP.map(
    (c, i) => `<div><i style="background:${c}"></i>${(step * i).toFixed(2)} – ${(step * (i + 1)).toFixed(2)} ${unit}</div>`,
  ).join("");
}

// ------------------------------------------------------------------ units on the map
const units = vectorLayer("civilization", {
  params: unitParams(),
  style: (props) => ({
    radius: 6, color: "#fff", weight: 1.5, fillColor: COLOURS[props.type] || "#1f6feb", cellColor: "#8e44ad",
  }),
  interactive: true,
  onClick: (features, latlng) => {
    const f = features[0];
    if (!f || f.properties.count) return;
    const p = f.properties;
    L.popup().setLatLng(latlng)
      .setContent(`<b>${escapeHtml(p.name)}</b><br>${TYPES[p.type] || p.type} · ${LEVELS[p.level] || p.level}${p.coarse ? "<br><span class='muted'>位置为所在社区代表点</span>" : ""}`)
      .openOn(map);
  },
  zIndex: 5,
});

// ------------------------------------------------------------------ charts
const charts = {
  types: echarts.init($("chart-types")),
  levels: echarts.init($("chart-levels")),
  ranking: echarts.init($("chart-ranking")),
};
window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));

function ring(chart, rows, colours) {
  chart.setOption({
    tooltip: { trigger: "item", formatter: "{b}：{c}（{d}%）" },
    legend: { bottom: 0, type: "scroll", textStyle: { fontSize: 11 } },
    color: colours,
    series: [{
      type: "pie", radius: ["42%", "68%"], center: ["50%", "44%"], avoidLabelOverlap: true,
      label: { formatter: "{b}\n{c}", fontSize: 11 },
      data: rows.map((r) => ({ name: r.name, value: r.count })),
    }],
  }, true);
}

async function loadStats() {
  const params = unitParams();
  const [byType, byLevel, rows] = await Promise.all([
    api("/api/v1/civilization/units/stats", { params: { ...params, by: "type" } }),
    api("/api/v1/civilization/units/stats", { params: { ...params, by: "level" } }),
    api("/api/v1/civilization/density", { params: { ...params, by: LEVEL } }),
  ]);
  ring(charts.types, byType.results, byType.results.map((r) => COLOURS[r.key] || "#999"));
  ring(charts.levels, byLevel.results, ["#3d5a80", "#2e86ab", "#f46036", "#d7263d"]);
  density = new Map(rows.results.map((r) => [r.code, r]));
  top = Math.max(0, ...rows.results.map((r) => r[measure()] || 0));
  const ranked = rows.results.filter((r) => r.count > 0).sort((a, b) => b.count - a.count).slice(0, 12).reverse();
  charts.ranking.setOption({
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { data: ["单位数", "每万人"], top: 0, textStyle: { fontSize: 11 } },
    grid: { left: 80, right: 24, top: 28, bottom: 24 },
    xAxis: [{ type: "value", name: "" }],
    yAxis: { type: "category", data: ranked.map((r) => r.name), axisLabel: { fontSize: 11 } },
    series: [
      { name: "单位数", type: "bar", data: ranked.map((r) => r.count), itemStyle: { color: "#1f6feb" }, label: { show: true, position: "right", fontSize: 10 } },
      { name: "每万人", type: "bar", data: ranked.map((r) => r.per_10k ?? 0), itemStyle: { color: "#f5a524" } },
    ],
  }, true);
  legend();
  choropleth.setStyle(choropleth.styleFn);
  $("chart-ranking").dataset.rows = String(ranked.length);
  $("chart-types").dataset.total = String(byType.total);
}

function refresh() {
  units.setParams(unitParams(), true);
  loadStats().catch((err) => toast(err.message, "error"));
}

// ------------------------------------------------------------------ layers on/off
function toggle(layer, on) {
  if (on && !map.hasLayer(layer)) layer.addTo(map);
  if (!on && map.hasLayer(layer)) map.removeLayer(layer);
}
$("layer-units").addEventListener("change", (e) => toggle(units, e.target.checked));
$("layer-density").addEventListener("change", (e) => toggle(choropleth, e.target.checked));
$("unit-types").addEventListener("change", (e) => {
  if (![...$("unit-types").querySelectorAll("input")].some((b) => b.checked)) {
    e.target.checked = true; // no type at all would be every type to the API
    toast("至少选择一种单位类型", "error");
    return;
  }
  refresh();
});
$("unit-level").addEventListener("change", refresh);
$("density-measure").addEventListener("change", () => {
  top = Math.max(0, ...[...density.values()].map((r) => r[measure()] || 0));
  legend();
  choropleth.setStyle(choropleth.styleFn);
});
choropleth.addTo(map);
units.addTo(map);

// ------------------------------------------------------------------ assessment-site draws
const sitesLayer = L.layerGroup().addTo(map);
let draws = [];
let current = null;

async function loadDraws(selectId) {
  const body = await api("/api/v1/civilization/draws", { params: { limit: 50 } });
  draws = body.results;
  const select = $("draw-select");
  select.innerHTML = draws.length ? "" : '<option value="">（无抽取记录）</option>';
  for (const d of draws) {
    select.add(new Option(`#${d.id} ${d.title}（${d.state_name}）`, d.id));
  }
  if (selectId) select.value = String(selectId);
  if (select.value) await showDraw(select.value);
}

async function showDraw(id) {
  current = await api(`/api/v1/civilization/draws/${id}`);
  sitesLayer.clearLayers();
  const types = [...new Set(current.sites.map((s) => s.site_type))];
  const palette = ["#0b2a5b", "#1b998b", "#6a1b9a", "#00838f", "#37474f", "#2e7d32"]; // apart from the density ramp
  const colour = (t) => palette[types.indexOf(t) % palette.length];
  const points = [];
  let base = 0;
  let reserves = 0;
  for (const s of current.sites) {
    const isBase = s.role === "base";
    if (isBase) base += 1;
    else reserves += 1;
    const used = s.active || s.replaced_at;
    const c = s.replaced_at ? "#888" : colour(s.site_type);
    points.push([s.lat, s.lon]);
    L.circleMarker([s.lat, s.lon], {
      radius: isBase ? 8 : 6, color: c, weight: 2.5, fill: Boolean(used && !s.replaced_at), fillColor: c, fillOpacity: 0.9,
      className: isBase ? "draw-site draw-base" : "draw-site draw-reserve",
    })
      .bindTooltip(`${escapeHtml(s.name)} · ${isBase ? "正选" : "备选"}第 ${s.rank + 1} 位${s.replaced_at ? "（已替换）" : ""}`)
      .addTo(sitesLayer);
  }
  if (points.length) map.fitBounds(points, { padding: [40, 40], maxZoom: 16 });
  const fmt = (v) => (v == null ? "—" : Number(v).toFixed(4));
  $("draw-figures").innerHTML =
    `<div>正选点位 <b id="draw-base">${base}</b> 个，备选 <b id="draw-reserve">${reserves}</b> 个</div>` +
    `<div>空间均衡度 <b id="draw-balance">${fmt(current.balance)}</b>（简单随机抽样均值 ${fmt(current.srs_balance_mean)}，越小越均衡）</div>` +
    `<div class="muted">${escapeHtml(current.method_name)} · 种子 ${escapeHtml(current.seed)} · ${escapeHtml(current.state_name)}</div>`;
  balanceControl.update(current);
}

const BalanceControl = L.Control.extend({
  options: { position: "topright" },
  onAdd() {
    this.div = L.DomUtil.create("div", "map-legend");
    this.div.id = "map-balance";
    this.div.hidden = true;
    return this.div;
  },
  update(draw) {
    this.div.hidden = false;
    const fmt = (v) => (v == null ? "—" : Number(v).toFixed(4));
    this.div.innerHTML = `<b>${escapeHtml(draw.title)}</b><br>空间均衡度 ${fmt(draw.balance)} · 随机均值 ${fmt(draw.srs_balance_mean)}` +
      '<br><span class="muted">实心：正选　空心：备选　灰色：已替换</span>';
  },
});
const balanceControl = new BalanceControl().addTo(map);

$("draw-select").addEventListener("change", (e) => e.target.value && showDraw(e.target.value).catch((err) => toast(err.message, "error")));
$("draw-new").addEventListener("click", async () => {
  const button = $("draw-new");
  button.disabled = true;
  try {
    const today = new Date().toISOString().slice(0, 10);
    const draw = await api("/api/v1/civilization/draws", {
      method: "POST",
      body: {
        title: `${userInfo().jurisdiction.label}测评点位 ${today}`,
        areas: [{ type: "测评点", n: Number($("draw-n").value), reserves: Number($("draw-reserves").value), region }],
      },
    });
    toast(`已抽取 ${draw.sites.length} 个点位`);
    await loadDraws(draw.id);
  } catch (err) {
    toast(err.message, "error");
  } finally {
    button.disabled = false;
  }
});
if (!can("civilization:draw") || !region) $("draw-new").hidden = true; // draws are made in a region

// ------------------------------------------------------------------ export
exportButton({
  button: $("export-go"),
  format: $("export-format"),
  status: $("export-status"),
  spec: () => {
    const layer = $("export-layer").value;
    if (layer === "draw_sites") {
      if (!current) throw new Error("请先选择一次抽取");
      return { layer, params: { draw: current.id } };
    }
    if (layer === "event_heatmap") return { layer, params: { bbox: bboxOf(map), zoom: map.getZoom() } };
    return { layer, params: { ...unitParams(), measure: measure() } };
  },
});
if (!can("export:read")) $("export-box").hidden = true;

loadStats().catch((err) => toast(err.message, "error"));
loadDraws().catch((err) => toast(err.message, "error"));
