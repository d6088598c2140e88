// civgrid web pages: what every page module shares (ES module, no bundler).
//   api()          JSON calls to /api/v1 with the session and the CSRF token; errors as ApiError
//   toast()        short messages in the corner
//   userInfo(), can(scope)   who is signed in (embedded by the page as #user-info)
//   bus            EventTarget shared by the page's modules (filters-changed, event-selected,
//                  event-changed, range-selected, view-changed); emit()/on() helpers
//   createMap()    a Leaflet map over the project's base map (/basemap/), on the user's jurisdiction
//   vectorLayer()  a Leaflet layer drawing /tiles/{name}/{z}/{x}/{y}.mvt on canvas tiles
import { PbfReader as Pbf } from "pbf";
import { VectorTile } from "@mapbox/vector-tile";

const L = window.L;

// ------------------------------------------------------------------ API
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function cookie(name) {
  const hit = document.cookie.split("; ").find((c) => c.startsWith(`${name}=`));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
}

/** Query string of an object: empty values left out, arrays joined with commas. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    search.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  return search.toString();
}

/**
 * Call the API: api("/api/v1/events", {params: {count: true}}) → parsed JSON.
 * `body` is sent as JSON, `form` (FormData) as multipart. Writes carry X-CSRFToken.
 * A non-2xx answer throws ApiError(status, code, message) with the server's (Chinese) message.
 */
export async function api(path, { method = "GET", params, body, form, signal } = {}) {
  const qs = query(params);
  const url = qs ? `${path}${path.includes("?") ? "&" : "?"}${qs}` : path;
  const headers = { Accept: "application/json" };
  let payload;
  if (form !== undefined) {
    payload = form;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (!["GET", "HEAD"].includes(method)) headers["X-CSRFToken"] = cookie("csrftoken");
  let response;
  let data;
  inflight += 1;
  try {
    response = await fetch(url, { method, headers, body: payload, credentials: "same-origin", signal });
    const type = response.headers.get("Content-Type") || "";
    data = type.includes("json") ? await response.json().catch(() => null) : await response.text();
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", "无法连接服务器，请检查网络");
  } finally {
    inflight -= 1;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    const apiError = new ApiError(
      response.status,
      error.code || `http_${response.status}`,
      error.message || `请求失败（${response.status}）`,
      error.details,
    );
    if (response.status === 401 && userInfo()) sessionExpired();
    throw apiError;
  }
  return data;
}

/** API calls under way (pages and tests wait for 0). */
export function pendingCalls() {
  return inflight;
}
let inflight = 0;

let expiredShown = false;
function sessionExpired() {
  if (expiredShown) return;
  expiredShown = true;
  toast("登录已过期，请重新登录", "error");
  setTimeout(() => {
    location.assign(`/login/?next=${encodeURIComponent(location.pathname + location.search)}`);
  }, 1500);
}

// ------------------------------------------------------------------ messages
export function toast(message, kind = "info") {
  let box = document.getElementById("toasts");
  if (!box) {
    box = document.createElement("div");
    box.id = "toasts";
    document.body.append(box);
  }
  const item = document.createElement("div");
  item.className = `toast toast-${kind}`;
  item.setAttribute("role", kind === "error" ? "alert" : "status");
  item.textContent = message;
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 6000 : 3500);
  return item;
}

/** "12345" → "1.2万" (counts on the map and in lists). */
export function formatCount(n) {
  if (n >= 1e8) return `${(n / 1e8).toFixed(1)}亿`;
  if (n >= 1e4) return `${(n / 1e4).toFixed(n >= 1e5 ? 0 : 1)}万`;
  return String(n);
}

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// ------------------------------------------------------------------ the user
let info;
export function userInfo() {
  if (info === undefined) {
    const node = document.getElementById("user-info");
    info = node ? JSON.parse(node.textContent) : null;
  }
  return info;
}

export function can(scope) {
  const user = userInfo();
  return Boolean(user && user.scopes.includes(scope));
}

// ------------------------------------------------------------------ the bus
/** Events: filters-changed, event-selected, event-changed, range-selected, view-changed. */
export const bus = new EventTarget();

export function emit(name, detail = {}) {
  bus.dispatchEvent(new CustomEvent(name, { detail }));
}

export function on(name, handler) {
  const listener = (event) => handler(event.detail);
  bus.addEventListener(name, listener);
  return () => bus.removeEventListener(name, listener);
}

// the page's current filters (API query params), kept here so a module loaded late can read them
const currentFilters = {};
export function filters() {
  return { ...currentFilters };
}

/** Merge into the page's filters (empty values remove a key) and emit `filters-changed`. */
export function setFilters(patch) {
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined || value === null || value === "") delete currentFilters[key];
    else currentFilters[key] = value;
  }
  emit("filters-changed", filters());
}

// ------------------------------------------------------------------ the map
export const BASEMAP_URL = "/basemap/tiles/basemap/webmercator/{z}/{x}/{y}.png";
const DEFAULT_VIEW = { center: [28.87, 105.44], zoom: 11 };

export function baseLayer(options = {}) {
  return L.tileLayer(BASEMAP_URL, {
    maxZoom: 19,
    attribution: "底图 © civgrid",
    ...options,
  });
}

/** "west,south,east,north" of the map view (the API's bbox parameter). */
export function bboxOf(map) {
  const b = map.getBounds();
  const r = (v) => v.toFixed(6);
  return [r(b.getWest()), r(b.getSouth()), r(b.getEast()), r(b.getNorth())].join(",");
}

const CoordsControl = L.Control.extend({
  options: { position: "bottomleft" },
  onAdd(map) {
    const div = L.DomUtil.create("div", "leaflet-control cg-coords");
    div.textContent = "经度 — 纬度 —";
    map.on("mousemove", (e) => {
      div.textContent = `经度 ${e.latlng.lng.toFixed(6)}  纬度 ${e.latlng.lat.toFixed(6)}`;
    });
    return div;
  },
});

/**
 * A Leaflet map over the base map, fitted to the user's jurisdiction.
 * Options: minimap (鹰眼, leaflet-minimap), scale (metric bar), coords (cursor coordinates).
 */
export function createMap(element, { minimap = false, scale = true, coords = true, ...options } = {}) {
  const map = L.map(element, { minZoom: 4, maxZoom: 19, zoomControl: true, ...options });
  map.attributionControl.setPrefix("Leaflet");
  baseLayer().addTo(map);
  const bounds = userInfo()?.bounds;
  if (bounds) map.fitBounds(bounds, { padding: [8, 8] });
  else map.setView(DEFAULT_VIEW.center, DEFAULT_VIEW.zoom);
  if (scale) L.control.scale({ imperial: false, maxWidth: 160 }).addTo(map);
  if (coords) new CoordsControl().addTo(map);
  if (minimap && L.Control.MiniMap) {
    new L.Control.MiniMap(baseLayer({ attribution: "" }), {
      position: "bottomright",
      toggleDisplay: true,
      width: 180,
      height: 140,
      zoomLevelOffset: -4,
      strings: { hideText: "隐藏鹰眼", showText: "显示鹰眼" },
    }).addTo(map);
  }
  map.on("moveend", () => {
    emit("view-changed", { bbox: bboxOf(map), zoom: map.getZoom(), center: map.getCenter() });
  });
  return map;
}

// ------------------------------------------------------------------ vector tiles
// Our own small canvas renderer over @mapbox/vector-tile + pbf: Leaflet.VectorGrid 1.3.0 (the
// last release) breaks on clicks with Leaflet >= 1.8 (L.DomEvent.fakeStop was removed; issues
// #274/#288 of Leaflet/Leaflet.VectorGrid, fixed upstream in 2025 but never released), and it
// cannot draw counted cells with their labels.

const GEOM_POINT = 1;
const GEOM_LINE = 2;
const GEOM_POLYGON = 3;

function defaultStyle(props, zoom, type) {
  if (type === GEOM_POINT) return { radius: 5, color: "#fff", fillColor: "#1f6feb", weight: 1.5 };
  if (type === GEOM_LINE) return { color: "#1f6feb", weight: 2 };
  return { color: "#1f6feb", weight: 1.2, fill: true, fillColor: "#1f6feb", fillOpacity: 0.08 };
}

function traceRings(ctx, rings, close) {
  ctx.beginPath();
  for (const ring of rings) {
    ring.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (close) ctx.closePath();
  }
}

function insideRings(x, y, rings) {
  let inside = false; // even-odd over every ring: holes count out
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

function segmentDistance(x, y, [x1, y1], [x2, y2]) {
  const dx = x2 - x1;
  const dy = y2 - y1;
  const t = dx || dy ? Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy))) : 0;
  return Math.hypot(x - (x1 + t * dx), y - (y1 + t * dy));
}

/** Ground metres per CSS pixel in the middle of a tile (web mercator). */
function metresPerPixel({ y, z }, size) {
  const n = Math.PI - (2 * Math.PI * (y + 0.5)) / 2 ** z;
  const lat = Math.atan(Math.sinh(n));
  return (40075016.686 * Math.cos(lat)) / (size * 2 ** z);
}

export function cellRadius(count) {
  return Math.min(30, 9 + 5 * Math.log10(Math.max(1, count)));
}

const VectorTileLayer = L.GridLayer.extend({
  options: { updateWhenZooming: false, keepBuffer: 1, interactive: false },

  initialize(name, options = {}) {
    L.GridLayer.prototype.initialize.call(this, options);
    this.name = name;
    this.params = { ...(options.params || {}) };
    this.styleFn = options.style || defaultStyle;
    this.onClick = options.onClick || null;
    this.features = new Map(); // tile key → drawn features (for hit tests)
    this.labelled = new Map(); // label key → tile key that drew it (one label per feature)
    this.stats = { requested: 0, loaded: 0, failed: 0, features: 0 };
    this.on("tileunload", (e) => {
      const key = this._tileCoordsToKey(e.coords);
      e.tile.cgAbort?.abort();
      this.features.delete(key);
      for (const [label, owner] of this.labelled) if (owner === key) this.labelled.delete(label);
    });
  },

  onAdd(map) {
    L.GridLayer.prototype.onAdd.call(this, map);
    if (this.options.interactive) map.on("click", this._click, this);
  },

  onRemove(map) {
    map.off("click", this._click, this);
    L.GridLayer.prototype.onRemove.call(this, map);
  },

  /** New filter parameters (merged unless replace); the tiles are fetched again. */
  setParams(params, replace = false) {
    this.params = replace ? { ...params } : { ...this.params, ...params };
    for (const [key, value] of Object.entries(this.params)) {
      if (value === undefined || value === null || value === "") delete this.params[key];
    }
    this.labelled.clear();
    this.redraw();
    return this;
  },

  /** Fetch the visible tiles again, revalidating the browser's copies (ETag) — after a write. */
  refresh() {
    this.revalidateUntil = Date.now() + 3000;
    this.labelled.clear();
    this.redraw();
    return this;
  },

  setStyle(styleFn) {
    this.styleFn = styleFn;
    this.labelled.clear();
    this.redraw();
    return this;
  },

  tileUrl({ x, y, z }) {
    const qs = query(this.params);
    return `/tiles/${this.name}/${z}/${x}/${y}.mvt${qs ? `?${qs}` : ""}`;
  },

  createTile(coords, done) {
    const size = this.getTileSize();
    const ratio = window.devicePixelRatio || 1;
    const tile = document.createElement("canvas");
    tile.width = size.x * ratio;
    tile.height = size.y * ratio;
    const controller = new AbortController();
    tile.cgAbort = controller;
    const key = this._tileCoordsToKey(coords);
    this.stats.requested += 1;
    const cache = Date.now() < (this.revalidateUntil || 0) ? "no-cache" : "default";
    fetch(this.tileUrl(coords), { credentials: "same-origin", signal: controller.signal, cache })
      .then((res) => {
        if (!res.ok) throw new Error(`切片请求失败（${res.status}）`);
        return res.arrayBuffer();
      })
      .then((buffer) => {
        const drawn = buffer.byteLength ? this._draw(tile, buffer, coords, ratio, key) : [];
        this.features.set(key, drawn);
        this.stats.loaded += 1;
        this.stats.features += drawn.length;
        done(null, tile);
      })
      .catch((err) => {
        if (err.name === "AbortError") return;
        this.stats.failed += 1;
        done(err, tile);
      });
    return tile;
  },

  _draw(canvas, buffer, coords, ratio, tileKey) {
    const tile = new VectorTile(new Pbf(buffer));
    const layer = tile.layers[this.name] || Object.values(tile.layers)[0];
    if (!layer) return [];
    const size = this.getTileSize().x;
    const k = size / layer.extent;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.lineJoin = "round";
    ctx.lineCap = "round";
    const drawn = [];
    const labels = [];
    for (let i = 0; i < layer.length; i += 1) {
      const feature = layer.feature(i);
      const props = feature.properties;
      const type = feature.type;
      const style = this.styleFn(props, coords.z, type);
      if (!style) continue;
      const rings = feature.loadGeometry().map((ring) => ring.map((p) => [p.x * k, p.y * k]));
      const item = { props, type, rings, style, id: feature.id };
      if (type === GEOM_POINT) {
        const [x, y] = rings[0][0];
        const aggregated = props.count !== undefined && props.count !== null;
        const radius = aggregated ? cellRadius(props.count) : (style.radius ?? 5);
        item.radius = radius;
        if (style.under) style.under(ctx, x, y, props, metresPerPixel(coords, size));
        ctx.beginPath();
        ctx.arc(x, y, radius, 0, Math.PI * 2);
        ctx.globalAlpha = aggregated ? (style.cellOpacity ?? 0.85) : (style.fillOpacity ?? 1);
        ctx.fillStyle = aggregated ? (style.cellColor ?? style.fillColor ?? "#1f6feb") : (style.fillColor ?? "#1f6feb");
        ctx.fill();
        ctx.globalAlpha = 1;
        if (style.weight !== 0) {
          ctx.lineWidth = style.weight ?? 1.5;
          ctx.strokeStyle = style.color ?? "#fff";
          ctx.stroke();
        }
        if (aggregated) labels.push({ x, y, text: formatCount(props.count), cell: true, style });
        else if (style.pointLabel) labels.push({ x, y: y - radius - 9, text: style.pointLabel, style });
      } else {
        const polygon = type === GEOM_POLYGON;
        traceRings(ctx, rings, polygon);
        if (polygon && style.fill !== false) {
          ctx.globalAlpha = style.fillOpacity ?? 0.1;
          ctx.fillStyle = style.fillColor ?? style.color ?? "#1f6feb";
          ctx.fill("evenodd");
          ctx.globalAlpha = 1;
        }
        if (style.weight !== 0) {
          ctx.setLineDash(style.dash || []);
          ctx.lineWidth = style.weight ?? 1.2;
          ctx.strokeStyle = style.color ?? "#1f6feb";
          ctx.globalAlpha = style.opacity ?? 1;
          ctx.stroke();
          ctx.globalAlpha = 1;
          ctx.setLineDash([]);
        }
        if (style.label && polygon) {
          const labelKey = style.labelKey ?? style.label;
          if (!this.labelled.has(labelKey)) {
            const spot = labelSpot(rings, size);
            if (spot) {
              this.labelled.set(labelKey, tileKey);
              labels.push({ ...spot, text: style.label, style });
            }
          }
        }
      }
      drawn.push(item);
    }
    for (const label of labels) {
      ctx.font = label.cell ? "bold 11px sans-serif" : (label.style.font ?? "13px sans-serif");
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      if (!label.cell) {
        ctx.lineWidth = 3;
        ctx.strokeStyle = "rgba(255,255,255,0.9)";
        ctx.strokeText(label.text, label.x, label.y);
      }
      ctx.fillStyle = label.cell ? "#fff" : (label.style.labelColor ?? "#1b2a41");
      ctx.fillText(label.text, label.x, label.y);
    }
    return drawn;
  },

  /** The drawn features under a map point, topmost first. */
  featuresAt(latlng, tolerance = 3) {
    const map = this._map;
    const z = this._tileZoom;
    if (!map || z === undefined) return [];
    const size = this.getTileSize();
    const p = map.project(latlng, z);
    const coords = { x: Math.floor(p.x / size.x), y: Math.floor(p.y / size.y), z };
    const drawn = this.features.get(this._tileCoordsToKey(coords)) || [];
    const x = p.x - coords.x * size.x;
    const y = p.y - coords.y * size.y;
    const hits = [];
    for (let i = drawn.length - 1; i >= 0; i -= 1) {
      const f = drawn[i];
      if (f.type === GEOM_POINT) {
        if (f.rings.some((ring) => ring.some(([px, py]) => Math.hypot(px - x, py - y) <= f.radius + tolerance))) {
          hits.push(f);
        }
      } else if (f.type === GEOM_POLYGON) {
        if (insideRings(x, y, f.rings)) hits.push(f);
      } else if (
        f.rings.some((ring) => ring.some((pt, j) => j && segmentDistance(x, y, ring[j - 1], pt) <= tolerance + 2))
      ) {
        hits.push(f);
      }
    }
    return hits;
  },

  _click(e) {
    if (!this.onClick) return;
    const hits = this.featuresAt(e.latlng);
    if (hits.length) {
      this.onClick({ properties: hits[0].props, feature: hits[0], hits, latlng: e.latlng, layer: this, originalEvent: e });
    }
  },
});

/** Where a polygon's label goes inside this tile: the middle of its largest part, when it is wide enough. */
function labelSpot(rings, size) {
  let best = null;
  for (const ring of rings) {
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (const [x, y] of ring) {
      minX = Math.min(minX, x);
      minY = Math.min(minY, y);
      maxX = Math.max(maxX, x);
      maxY = Math.max(maxY, y);
    }
    const area = (maxX - minX) * (maxY - minY);
    if (!best || area > best.area) best = { area, minX, minY, maxX, maxY };
  }
  if (!best || best.maxX - best.minX < 48 || best.maxY - best.minY < 18) return null;
  const x = Math.max(24, Math.min(size - 24, (best.minX + best.maxX) / 2));
  const y = Math.max(12, Math.min(size - 12, (best.minY + best.maxY) / 2));
  if (!insideRings(x, y, rings)) return null; // a concave part whose middle is outside it
  return { x, y };
}

/**
 * A vector-tile layer: vectorLayer("events", {params: {state: "reported"}, style, interactive, onClick}).
 * style(properties, zoom, type) → {color, weight, fill, fillColor, fillOpacity, radius, dash, label,
 * labelKey, cellColor} or null to hide; type 1 point, 2 line, 3 polygon. Points with a `count`
 * attribute (server-aggregated cells) are drawn as circles sized by the count, labelled with it.
 * layer.setParams({...}) refetches with new filters; layer.featuresAt(latlng) hit-tests;
 * layer.stats counts tiles requested/loaded/failed and features drawn.
 */
export function vectorLayer(name, { style, params, interactive = false, onClick, ...options } = {}) {
  return new VectorTileLayer(name, { style, params, interactive: interactive || Boolean(onClick), onClick, ...options });
}

export { VectorTileLayer };

// ------------------------------------------------------------------ the top bar
function wireTopBar() {
  const button = document.getElementById("logout");
  if (!button) return;
  button.addEventListener("click", async () => {
    try {
      await api("/api/v1/auth/logout", { method: "POST" });
    } finally {
      location.assign("/login/");
    }
  });
}
wireTopBar();
