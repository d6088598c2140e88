// 指挥中心: the map over the base map, its layers and tools, and W3's side panels.
// window.civgrid exposes the map, the layers, the bus, idle() and the load timings (browser tests
// and the speed benchmark read them; timings are ms since the navigation started).
import { bboxOf, bus, can, createMap, filters, on, pendingCalls, toast } from "./core.js";
import { exportButton } from "./export.js";
import { HeatmapLayer, LayerManager, createPanes } from "./center-layers.js";
import { initMeasure, initRange, initSearch, initTimeFilter } from "./tools.js";
import { initNotifications } from "./notifications.js";

const L = window.L;
const timing = { firstTile: null, baseLoaded: null, allLoaded: null, layers: {} };

const map = createMap(document.getElementById("map"), { minimap: true });
createPanes(map);
map.pm?.setLang("zh");
const civgrid = { map, bus, layers: {}, timing, rangeCounts: null, highlightedGrid: null };
window.civgrid = civgrid;

/** Tile layers on the map (base map and vector layers) and the heatmap. */
function loadingLayers() {
  const out = [];
  map.eachLayer((layer) => {
    if (layer instanceof L.GridLayer) out.push(layer);
  });
  const heat = civgrid.layers.heatmap;
  if (heat instanceof HeatmapLayer && map.hasLayer(heat.group)) out.push(heat);
  return out;
}

const tilesIdle = () => loadingLayers().every((layer) => !layer.isLoading());
/** Nothing loading: no tile layer waiting for tiles, no API call under way. */
civgrid.idle = () => pendingCalls() === 0 && tilesIdle();

/** First time every visible tile of every layer switched on at start is drawn. */
function markAllLoaded() {
  if (timing.allLoaded === null && civgrid.ready && tilesIdle()) timing.allLoaded = performance.now();
}

function watchLoads(layer) {
  layer.on("tileload", () => {
    if (timing.firstTile === null) timing.firstTile = performance.now();
  });
  layer.on("load", () => {
    if (layer === baseLayer && timing.baseLoaded === null) timing.baseLoaded = performance.now();
    if (layer.name && !(layer.name in timing.layers)) timing.layers[layer.name] = performance.now();
    markAllLoaded();
    loadingBadge();
  });
  layer.on("loading", loadingBadge);
}

const badge = L.DomUtil.create("div", "cg-load", document.querySelector(".center-map-wrap"));
badge.textContent = "加载中…";
function loadingBadge() {
  badge.hidden = loadingLayers().every((layer) => !layer.isLoading());
}

let baseLayer = null;
map.eachLayer((layer) => {
  if (layer instanceof L.TileLayer) baseLayer = layer;
});
watchLoads(baseLayer);
map.on("layeradd", (e) => {
  if (e.layer instanceof L.GridLayer && e.layer !== baseLayer && !e.layer.cgWatched) {
    e.layer.cgWatched = true;
    watchLoads(e.layer);
  }
});

const manager = new LayerManager(map, document.getElementById("layer-list"));
civgrid.layers = manager.layers;
civgrid.manager = manager;
// the default layers once the base map has drawn (or after a second at most)
const baseDrawn = new Promise((resolve) => {
  baseLayer.once("load", resolve);
  setTimeout(resolve, 1000);
});
manager
  .init(baseDrawn)
  .then(() => {
    civgrid.ready = true;
    markAllLoaded();
  })
  .catch((err) => toast(`图层加载失败：${err.message}`, "error"));

initSearch(map);
initTimeFilter();
civgrid.range = initRange(map, manager);
initMeasure(map);
civgrid.notifications = initNotifications(); // the bell in the top bar (center.html)

// an event chosen in the side panel's list comes with its point: bring it into view and mark it
const selectedMark = L.circleMarker([0, 0], {
  radius: 14, color: "#e8590c", weight: 3, fill: false, interactive: false, className: "cg-selected-event",
});
on("event-selected", ({ lon, lat }) => {
  if (!Number.isFinite(Number(lon)) || !Number.isFinite(Number(lat))) return;
  const point = L.latLng(Number(lat), Number(lon));
  if (!map.getBounds().pad(-0.1).contains(point) || map.getZoom() < 15) map.setView(point, Math.max(map.getZoom(), 16));
  selectedMark.setLatLng(point).addTo(map);
  civgrid.selectedEvent = [point.lat, point.lng];
});

// 导出: the event heatmap of the current view with the page's filters (time window, category…),
// as a self-contained folium map or a PNG/PDF print (export.js → POST /api/v1/exports/maps)
exportButton({
  button: document.getElementById("export-go"),
  format: document.getElementById("export-format"),
  status: document.getElementById("export-status"),
  spec: () => ({ layer: "event_heatmap", params: { ...filters(), bbox: bboxOf(map), zoom: map.getZoom() } }),
});
if (!can("export:read") || !can("events:read")) document.getElementById("export-box").hidden = true;

import("./panels/index.js")
  .then((panels) => panels.initPanels({ map, bus }))
  .catch((err) => console.error("面板加载失败", err));
