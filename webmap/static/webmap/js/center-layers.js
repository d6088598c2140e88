// 指挥中心: the switchable layers — what each shows, how it is drawn, the layer panel and legend,
// the event heatmap (server bins for the view) and what a click on the map opens.
import { api, can, emit, escapeHtml, filters, formatCount, on, toast, vectorLayer } from "./core.js";

const L = window.L;

// ------------------------------------------------------------------ colours
export const STATE_COLOURS = {
  reported: ["已上报", "#e8590c"],
  verified: ["已核实", "#f59f00"],
  registered: ["已立案", "#d6336c"],
  dispatched: ["已派遣", "#1c7ed6"],
  handled: ["已处置", "#7048e8"],
  checked: ["已核查", "#0ca678"],
  closed: ["已结案", "#868e96"],
  suspended: ["已挂起", "#adb5bd"],
  invalid: ["已作废", "#ced4da"],
  merged: ["已合并", "#ced4da"],
};
export const TIMELINESS = { green: ["正常", "#2fa84f"], yellow: ["预警", "#f5a524"], red: ["超时", "#e5484d"] };
const COMPONENT_STATUS = { intact: "#4c6ef5", damaged: "#f08c00", lost: "#e03131", removed: "#adb5bd" };
const STAFF_ROLES = {
  grid_head: "网格长", full_time: "专职网格员", part_time: "兼职网格员", instructor: "网格指导员", party_leader: "党小组长",
};
const CIV_TYPES = {
  city: "文明城市", unit: "文明单位", village: "文明村镇", campus: "文明校园", community: "文明社区", family: "文明家庭",
};

/** The event colour rule of the tiles (colour as of the tile's render; recomputed from warn/due when present). */
export function timeliness(props, now = Date.now() / 1000) {
  if (props.due_at && now >= props.due_at) return "red";
  if (props.warn_at && now >= props.warn_at) return "yellow";
  return props.colour || (props.due_at ? "green" : null);
}

// ------------------------------------------------------------------ styles
// labels from minLabelZoom up to (not including) maxLabelZoom, where the finer level takes over
const regionStyle = (color, weight, dash, font, minLabelZoom, maxLabelZoom = 99) => (props, z) => ({
  color, weight, dash, fill: false, font, labelColor: color,
  label: z >= minLabelZoom && z < maxLabelZoom ? props.name : null, labelKey: props.code,
});  // prettier-ignore

function gridStyle(props, z) {
  const key = props.kind === "key";
  return {
    color: key ? "#e8590c" : "#1971c2",
    weight: key ? 2 : 1,
    fill: true,
    fillColor: key ? "#ff922b" : "#74c0fc",
    fillOpacity: key ? 0.18 : 0.05,
    label: z >= 17 ? props.name : null,
    labelKey: props.code,
    font: "12px sans-serif",
    labelColor: key ? "#c2410c" : "#1864ab",
  };
}

let eventColouring = "state"; // or "timeliness"
function eventStyle(props) {
  if (props.count !== undefined) return { cellColor: "#d9480f", color: "#fff", weight: 2 };
  const state = STATE_COLOURS[props.state]?.[1] ?? "#495057";
  const clock = TIMELINESS[timeliness(props)]?.[1];
  if (eventColouring === "timeliness") {
    return { radius: 6, fillColor: clock ?? "#adb5bd", color: "#fff", weight: 1.5 };
  }
  return { radius: 6, fillColor: state, color: clock ?? "#fff", weight: clock ? 2.5 : 1.5 };
}

function componentStyle(props) {
  if (props.count !== undefined) return { cellColor: "#4263eb", color: "#fff", weight: 1.5 };
  return { radius: 3.5, fillColor: COMPONENT_STATUS[props.status] ?? "#4c6ef5", color: "#fff", weight: 1 };
}

function drawSector(ctx, x, y, props, metresPerPixel) {
  const range = props.range / metresPerPixel;
  if (!(range > 2)) return;
  ctx.beginPath();
  if (props.angle >= 360) {
    ctx.arc(x, y, range, 0, Math.PI * 2);
  } else {
    // direction: degrees clockwise from north; canvas angles: clockwise from east
    const a0 = ((props.direction - props.angle / 2 - 90) * Math.PI) / 180;
    const a1 = ((props.direction + props.angle / 2 - 90) * Math.PI) / 180;
    ctx.moveTo(x, y);
    ctx.arc(x, y, range, a0, a1);
    ctx.closePath();
  }
  ctx.fillStyle = "rgba(112, 72, 232, 0.16)";
  ctx.fill();
  ctx.lineWidth = 1;
  ctx.strokeStyle = "rgba(112, 72, 232, 0.7)";
  ctx.stroke();
}

function cameraStyle(props, z) {
  if (props.count !== undefined) return { cellColor: "#7048e8", color: "#fff", weight: 1.5 };
  return { radius: 4.5, fillColor: "#7048e8", color: "#fff", weight: 1.5, under: z >= 14 ? drawSector : null };
}

function civilizationStyle(props) {
  if (props.count !== undefined) return { cellColor: "#c08a00", color: "#fff", weight: 1.5 };
  return props.coarse
    ? { radius: 5, fillColor: "#fff3bf", color: "#c08a00", weight: 2 }
    : { radius: 5.5, fillColor: "#f2b705", color: "#7a5600", weight: 1.2 };
}

function staffStyle(props, z) {
  return {
    radius: 6, fillColor: "#12b886", color: "#fff", weight: 2,
    pointLabel: z >= 16 ? props.name : null,
  };  // prettier-ignore
}

// ------------------------------------------------------------------ the catalogue
// key: tile layer name (or "heatmap"); filters: which of the page's filters the layer takes
export const CATALOGUE = [
  { group: "行政区划" },
  { key: "regions-district", title: "区县边界", on: true, style: regionStyle("#0b2a5b", 2.5, null, "bold 15px sans-serif", 0), swatch: "#0b2a5b" },
  { key: "regions-street", title: "街道（乡镇）边界", on: true, minZoom: 12, style: regionStyle("#364fc7", 1.6, [6, 4], "13px sans-serif", 13, 16), swatch: "#364fc7" },
  { key: "regions-community", title: "社区（村）边界", minZoom: 14, style: regionStyle("#5c7cfa", 1, [3, 3], "12px sans-serif", 15, 17), swatch: "#5c7cfa" },
  { group: "网格" },
  { key: "grids", title: "单元网格（重点网格橙色）", on: true, minZoom: 12, style: gridStyle, swatch: "#e8590c" },
  { group: "事件" },
  { key: "events", title: "事件", on: true, style: eventStyle, swatch: "#e8590c", eventFilters: true, options: "colouring" },
  { key: "heatmap", title: "事件热力", heatmap: true, eventFilters: true, swatch: "#f03e3e", scope: "events:read", options: "shape" },
  { group: "城市资源" },
  { key: "components", title: "城市部件", style: componentStyle, swatch: "#4c6ef5" },
  { key: "cameras", title: "视频监控（含可视范围）", style: cameraStyle, swatch: "#7048e8" },
  { key: "civilization", title: "文明创建单位", style: civilizationStyle, swatch: "#f2b705" },
  { key: "staff", title: "网格员实时位置", style: staffStyle, swatch: "#12b886", live: 20_000 },
];  // prettier-ignore

// drawing order inside the vector pane (boundaries over grid fills, points on top, events topmost)
const Z_ORDER = {
  grids: 2, "regions-community": 3, "regions-street": 4, "regions-district": 5,
  components: 6, civilization: 7, cameras: 8, staff: 9, events: 10,
};  // prettier-ignore

/** The panes: the event heatmap above the base map and under the vector layers. */
export function createPanes(map) {
  map.createPane("cgHeat").style.zIndex = 250;
  map.createPane("cgVector").style.zIndex = 300;
}

// ------------------------------------------------------------------ heatmap (server bins)
const HEAT_RAMP = ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"];

export class HeatmapLayer {
  constructor(map, { shape = "square" } = {}) {
    this.map = map;
    this.shape = shape;
    this.params = {};
    this.group = L.geoJSON(null, {
      pane: "cgHeat",
      renderer: L.canvas({ padding: 0.2, pane: "cgHeat" }),
      interactive: false,
      style: (f) => this.styleOf(f.properties.count),
    });
    this.controller = null;
    this.max = 1;
    this.onMove = () => this.schedule();
    this.bins = 0;
    this.loading = false;
  }

  styleOf(count) {
    const i = Math.min(HEAT_RAMP.length - 1, Math.floor((Math.log(count + 1) / Math.log(this.max + 1)) * HEAT_RAMP.length));
    return { stroke: false, fillColor: HEAT_RAMP[Math.max(0, i)], fillOpacity: 0.62 };
  }

  addTo(map) {
    this.group.addTo(map);
    map.on("moveend", this.onMove);
    this.refresh();
    return this;
  }

  remove() {
    this.map.off("moveend", this.onMove);
    this.controller?.abort();
    this.group.clearLayers();
    this.group.remove();
  }

  setParams(params) {
    this.params = params;
    if (this.map.hasLayer(this.group)) this.refresh();
  }

  setShape(shape) {
    this.shape = shape;
    if (this.map.hasLayer(this.group)) this.refresh();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), 250);
  }

  async refresh() {
    this.controller?.abort();
    this.controller = new AbortController();
    const b = this.map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
    this.loading = true;
    try {
      const answer = await api("/api/v1/events/heatmap", {
        params: { ...this.params, bbox, zoom: this.map.getZoom(), shape: this.shape, bin_px: 32, polygons: true },
        signal: this.controller.signal,
      });
      this.max = Math.max(1, ...answer.bins.map((bin) => bin.count));
      this.group.clearLayers();
      this.group.addData(
        answer.bins.map((bin) => ({ type: "Feature", geometry: bin.geometry, properties: { count: bin.count } })),
      );
      this.bins = answer.bins.length;
      this.total = answer.count;
      this.loading = false;
      this.group.fire("heatmap-loaded", { bins: this.bins, count: answer.count });
    } catch (err) {
      if (err.name === "AbortError") return;
      this.loading = false;
      toast(`热力图加载失败：${err.message}`, "error");
    }
  }

  isLoading() {
    return this.loading;
  }
}

// ------------------------------------------------------------------ the manager
/**
 * Creates the layers the user may read (per GET /tiles/), the layer panel, the legend; applies the
 * page's filters to the event layers; answers clicks with popups (an event also → event-selected).
 */
export class LayerManager {
  constructor(map, panel) {
    this.map = map;
    this.panel = panel;
    this.layers = {}; // key → Leaflet layer (or HeatmapLayer)
    this.available = {}; // tile layer name → its filter names
    this.entries = {};
  }

  /** `after`: a promise the default layers wait for (the base map first: its tiles are not queued
   * behind the vector tiles on the server's few workers). */
  async init(after = Promise.resolve()) {
    const listing = await api("/tiles/");
    for (const layer of listing.layers) this.available[layer.name] = new Set(layer.filters || []);
    this.renderPanel();
    await after;
    for (const entry of CATALOGUE) {
      if (entry.on && this.isAvailable(entry) && !this.layers[entry.key]) this.toggle(entry.key, true);
    }
    this.map.on("click", (e) => this.click(e));
    on("filters-changed", () => this.applyFilters());
    on("event-changed", () => this.refreshEvents());
    this.legend().addTo(this.map);
    return this;
  }

  isAvailable(entry) {
    if (entry.heatmap) return can(entry.scope) && "events" in this.available;
    return entry.key in this.available;
  }

  /** The page's filters a layer accepts (unknown filters are a 400 for tiles). */
  paramsFor(key) {
    const accepted = this.available[key === "heatmap" ? "events" : key] || new Set();
    const entry = this.entries[key];
    if (!entry?.eventFilters) return {};
    const out = {};
    for (const [name, value] of Object.entries(filters())) if (accepted.has(name)) out[name] = value;
    return out;
  }

  create(entry) {
    if (entry.heatmap) return new HeatmapLayer(this.map);
    const options = { style: entry.style, params: this.paramsFor(entry.key), pane: "cgVector", zIndex: Z_ORDER[entry.key] ?? 5 };
    if (entry.minZoom) options.minZoom = entry.minZoom;
    const layer = vectorLayer(entry.key, options);
    if (entry.live) {
      layer.on("add", () => {
        layer.cgTimer = setInterval(() => layer.refresh(), entry.live);
      });
      layer.on("remove", () => clearInterval(layer.cgTimer));
    }
    return layer;
  }

  toggle(key, visible) {
    const entry = this.entries[key];
    let layer = this.layers[key];
    if (visible) {
      if (!layer) {
        layer = this.create(entry);
        this.layers[key] = layer;
      }
      layer.addTo(this.map);
    } else if (layer) {
      layer.remove();
      if (entry.heatmap) delete this.layers[key];
    }
    const box = this.panel.querySelector(`input[data-layer="${key}"]`);
    if (box) box.checked = visible;
  }

  isOn(key) {
    const layer = this.layers[key];
    if (!layer) return false;
    return layer instanceof HeatmapLayer ? this.map.hasLayer(layer.group) : this.map.hasLayer(layer);
  }

  applyFilters() {
    for (const key of ["events", "heatmap"]) {
      const layer = this.layers[key];
      if (!layer) continue;
      if (layer instanceof HeatmapLayer) layer.setParams(this.paramsFor(key));
      else layer.setParams(this.paramsFor(key), true);
    }
  }

  refreshEvents() {
    this.layers.events?.refresh();
    if (this.layers.heatmap) this.layers.heatmap.refresh();
  }

  renderPanel() {
    const list = this.panel;
    list.innerHTML = "";
    for (const entry of CATALOGUE) {
      if (entry.group) {
        const head = document.createElement("div");
        head.className = "layer-group";
        head.textContent = entry.group;
        list.append(head);
        continue;
      }
      this.entries[entry.key] = entry;
      const available = this.isAvailable(entry);
      const row = document.createElement("label");
      row.className = `layer-item${available ? "" : " unavailable"}`;
      row.innerHTML = `<input type="checkbox" data-layer="${entry.key}"${available ? "" : " disabled"}>
        <span class="swatch" style="background:${entry.swatch}"></span><span>${escapeHtml(entry.title)}</span>
        ${available ? "" : '<span class="muted">（无权限）</span>'}`;
      const box = row.querySelector("input");
      box.addEventListener("change", () => this.toggle(entry.key, box.checked));
      list.append(row);
      if (entry.options && available) list.append(this.optionsFor(entry));
      if (entry.on && available) this.panel.querySelector(`input[data-layer="${entry.key}"]`).checked = true;
    }
  }

  optionsFor(entry) {
    const div = document.createElement("div");
    div.className = "layer-options";
    if (entry.options === "colouring") {
      div.innerHTML = `<select id="event-colouring" aria-label="事件着色">
        <option value="state">按状态着色（外圈为时效）</option><option value="timeliness">按时效着色（红黄绿）</option></select>`;
      div.querySelector("select").addEventListener("change", (e) => {
        eventColouring = e.target.value;
        this.layers.events?.setStyle(eventStyle);
      });
    } else if (entry.options === "shape") {
      div.innerHTML = `<select id="heatmap-shape" aria-label="热力格网形状">
        <option value="square">方格</option><option value="hex">六边形</option></select>`;
      div.querySelector("select").addEventListener("change", (e) => {
        this.shape = e.target.value;
        this.layers.heatmap?.setShape(e.target.value);
      });
    }
    return div;
  }

  legend() {
    const control = L.control({ position: "bottomleft" });
    control.onAdd = () => {
      const div = L.DomUtil.create("div", "legend");
      const states = ["reported", "verified", "registered", "dispatched", "handled", "checked", "closed"];
      div.innerHTML = `<div class="legend-title">事件状态</div>${states
        .map((s) => `<span><i style="background:${STATE_COLOURS[s][1]}"></i>${STATE_COLOURS[s][0]}</span>`)
        .join(" ")}<div class="legend-title">时效（外圈）</div>${Object.values(TIMELINESS)
        .map(([name, colour]) => `<span><i style="background:${colour}"></i>${name}</span>`)
        .join(" ")}`;
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    return control;
  }

  // ---------------------------------------------------------------- clicks
  click(e) {
    if (this.map.pm?.globalDrawModeEnabled?.()) return;
    const order = ["events", "staff", "cameras", "components", "civilization", "grids", "regions-community", "regions-street", "regions-district"];
    for (const key of order) {
      const layer = this.layers[key];
      if (!layer || !this.map.hasLayer(layer) || !layer.featuresAt) continue;
      const hit = layer.featuresAt(e.latlng)[0];
      if (!hit) continue;
      const props = hit.props;
      if (props.count !== undefined) {
        this.map.setView(e.latlng, Math.min(this.map.getZoom() + 2, 19));
        return;
      }
      this.popup(key, props, e.latlng);
      return;
    }
  }

  async popup(key, props, latlng) {
    const rows = [];
    let title = "";
    let extra = "";
    if (key === "events") {
      title = `事件 #${props.id}`;
      const clock = timeliness(props);
      rows.push(["状态", STATE_COLOURS[props.state]?.[0] ?? props.state]);
      rows.push(["分类", props.category]);
      if (clock) rows.push(["时效", `<span class="badge badge-${clock}">${TIMELINESS[clock][0]}</span>`]);
      rows.push(["上报时间", new Date(props.reported_at * 1000).toLocaleString("zh-CN")]);
      rows.push(["网格", props.grid]);
      emit("event-selected", { id: props.id });
      extra = `<button type="button" class="btn btn-small btn-primary" data-event="${props.id}">查看详情</button>`;
    } else if (key === "staff") {
      title = props.name;
      rows.push(["角色", STAFF_ROLES[props.role] ?? props.role]);
      rows.push(["定位时间", new Date(props.time * 1000).toLocaleTimeString("zh-CN")]);
      if (props.speed !== undefined) rows.push(["速度", `${props.speed.toFixed(1)} km/h`]);
      rows.push(["所在网格", props.grid]);
    } else if (key === "cameras") {
      title = props.name;
      rows.push(["编号", props.code], ["朝向", `${props.direction}°`], ["视角", `${props.angle}°`], ["可视距离", `${props.range} 米`]);
    } else if (key === "components") {
      title = props.class_name;
      rows.push(["部件编码", props.code], ["名称", props.name], ["状态", { intact: "完好", damaged: "破损", lost: "丢失", removed: "移除" }[props.status] ?? props.status], ["网格", props.grid]);
    } else if (key === "civilization") {
      title = props.name;
      rows.push(["类型", CIV_TYPES[props.type] ?? props.type], ["级别", props.level], ["命名年度", props.year]);
      if (props.coarse) rows.push(["位置", "所在社区代表点（个人信息保护）"]);
    } else if (key === "grids") {
      title = props.name;
      rows.push(["网格编码", props.code], ["类型", props.kind === "key" ? "重点网格" : "一般网格"], ["户数", props.households], ["人口", props.population]);
    } else {
      title = props.name;
      rows.push(["区划代码", props.code]);
    }
    const html = `<div class="cg-popup"><div class="popup-title">${escapeHtml(title)}</div><table>${rows
      .map(([k, v]) => `<tr><td>${k}</td><td>${typeof v === "string" && v.startsWith("<span") ? v : escapeHtml(v)}</td></tr>`)
      .join("")}</table>${extra}</div>`;
    const popup = L.popup({ maxWidth: 320 }).setLatLng(latlng).setContent(html).openOn(this.map);
    popup.getElement()?.querySelector("[data-event]")?.addEventListener("click", () => {
      emit("event-selected", { id: props.id, open: true });
    });
  }
}

export { formatCount };
