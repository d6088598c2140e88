// What the panels query: the map's view (or a drawn range), the page's filters (time window
// from the map's tools) and the panel's own event filters. One object, shared by the list
// and the statistics, announcing "changed" when any part moves.
import { bboxOf, emit, filters, setFilters } from "../core.js";

/** Range parameters of the shared range filter (gis_core/api/ranges.py). */
const RANGE_KEYS = ["region", "grid", "bbox", "lon", "lat", "radius", "polygon", "line", "buffer"];

function withoutRange(params) {
  const out = { ...params };
  for (const key of RANGE_KEYS) delete out[key];
  return out;
}

function rangeLabel(range) {
  if (!range) return "";
  if (range.label) return range.label;
  if (range.region) return `区划 ${range.region}`;
  if (range.grid) return `网格 ${range.grid}`;
  if (range.radius) return `圆形范围（半径 ${Math.round(Number(range.radius))} 米）`;
  if (range.polygon) return "绘制的多边形";
  if (range.line) return `沿线缓冲 ${range.buffer} 米`;
  if (range.bbox) return "绘制的矩形";
  return "选定范围";
}

export class PanelState extends EventTarget {
  constructor({ map, bus }) {
    super();
    this.map = map;
    this.page = withoutRange(filters()); // the page's filters (core.js setFilters), this panel's among them
    this.range = null; // range-selected, or null: the map's current view
    this.bbox = map ? bboxOf(map) : null;

    bus.addEventListener("filters-changed", (e) => {
      this.page = withoutRange(e.detail || {});
      this.changed("filters");
    });
    bus.addEventListener("view-changed", () => {
      if (!this.map) return;
      this.bbox = bboxOf(this.map);
      if (!this.range) this.changed("view");
    });
    bus.addEventListener("range-selected", (e) => {
      const detail = e.detail;
      const given = detail && RANGE_KEYS.some((k) => detail[k] !== undefined && detail[k] !== null && detail[k] !== "");
      this.range = given ? { ...detail } : null;
      this.changed("range");
    });
  }

  changed(what) {
    this.dispatchEvent(new CustomEvent("changed", { detail: { what } }));
  }

  /** The panel's filter form changed: into the page's filters (the map's event layer follows them). */
  setOwn(own) {
    setFilters(own); // emits filters-changed, which lands in this.page above
  }

  clearRange() {
    this.range = null;
    if (this.map) this.bbox = bboxOf(this.map);
    emit("range-selected", {});
  }

  /** The event filters (time window and attributes), without any range. */
  filterParams() {
    return { ...this.page };
  }

  /** The range: the drawn one, or the map's view. */
  rangeParams() {
    if (this.range) {
      const out = {};
      for (const key of RANGE_KEYS) if (this.range[key] !== undefined && this.range[key] !== null) out[key] = this.range[key];
      if (this.range.crs) out.crs = this.range.crs;
      return out;
    }
    return this.bbox ? { bbox: this.bbox } : {};
  }

  rangeLabel() {
    return this.range ? rangeLabel(this.range) : "当前地图视野";
  }

  /** Everything the event list asks for. */
  listParams() {
    return { ...this.filterParams(), ...this.rangeParams() };
  }
}
