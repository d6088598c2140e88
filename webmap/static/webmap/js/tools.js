// 指挥中心 tools: address search (suggestions → place, its grid highlighted), time filter,
// range query (rectangle / circle / polygon drawn with leaflet-geoman, or a region) that counts
// and lists what lies inside for each point layer, and measuring distance and area on the ground.
import area from "@turf/area";
import { api, can, emit, escapeHtml, formatCount, on, setFilters, userInfo } from "./core.js";

const L = window.L;
const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ formatting
export function formatLength(metres) {
  return metres < 1000 ? `${metres.toFixed(1)} 米` : `${(metres / 1000).toFixed(3)} 公里`;
}

export function formatArea(m2) {
  if (m2 < 1e6) return `${m2.toFixed(1)} 平方米（${(m2 / 666.6667).toFixed(2)} 亩）`;
  return `${(m2 / 1e6).toFixed(3)} 平方公里`;
}

/** Length on the ground of a path (Leaflet's great-circle distance, within 0.5 % of the spheroid). */
export function pathLength(latlngs) {
  let total = 0;
  for (let i = 1; i < latlngs.length; i += 1) total += latlngs[i - 1].distanceTo(latlngs[i]);
  return total;
}

// ------------------------------------------------------------------ drawing (geoman)
let drawPurpose = null; // "range" | "measure"

function startDrawing(map, shape, purpose) {
  drawPurpose = purpose;
  map.pm.disableDraw();
  const style = purpose === "measure"
    ? { color: "#0b7285", weight: 3, fillColor: "#15aabf", fillOpacity: 0.15, dashArray: "6 4" }
    : { color: "#c2255c", weight: 2.5, fillColor: "#f06595", fillOpacity: 0.12 };
  map.pm.enableDraw(shape, {
    templineStyle: style, hintlineStyle: { ...style, dashArray: "4 4" }, pathOptions: style,
    finishOn: shape === "Line" ? "dblclick" : null, continueDrawing: false, snappable: false,
  });  // prettier-ignore
}

// ------------------------------------------------------------------ search
const MATCH_LEVELS = {
  door: "门牌", interpolated: "门牌（插值）", building: "楼栋", poi: "兴趣点", road: "道路",
  community: "社区（村）", street: "街道（乡镇）", district: "区县", city: "城市", province: "省份",
};  // prettier-ignore

export function initSearch(map) {
  const input = $("search-input");
  const list = $("search-suggest");
  const result = $("search-result");
  const group = L.featureGroup().addTo(map);
  let timer;
  let controller;
  let items = [];
  let active = -1;

  const closeList = () => {
    list.hidden = true;
    active = -1;
  };

  const renderList = () => {
    list.innerHTML = items
      .map((s, i) => `<li role="option" data-i="${i}" class="${i === active ? "active" : ""}">${escapeHtml(s.name)}<span class="muted">${escapeHtml(s.text)}</span></li>`)
      .join("");
    list.hidden = items.length === 0;
  };

  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2) {
      items = [];
      closeList();
      return;
    }
    timer = setTimeout(async () => {
      controller?.abort();
      controller = new AbortController();
      try {
        const answer = await api("/api/v1/geocode/suggest", { params: { q, limit: 8 }, signal: controller.signal });
        items = answer.results || [];
        active = -1;
        renderList();
      } catch (err) {
        if (err.name !== "AbortError") closeList();
      }
    }, 200);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!items.length) return;
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
      renderList();
    } else if (e.key === "Enter") {
      e.preventDefault();
      const chosen = active >= 0 ? items[active] : null;
      if (chosen) input.value = chosen.text;
      closeList();
      locate(input.value.trim());
    } else if (e.key === "Escape") {
      closeList();
    }
  });
  list.addEventListener("mousedown", (e) => {
    const li = e.target.closest("li[data-i]");
    if (!li) return;
    e.preventDefault();
    input.value = items[Number(li.dataset.i)].text;
    closeList();
    locate(input.value);
  });
  input.addEventListener("blur", () => setTimeout(closeList, 150));
  $("search-go").addEventListener("click", () => {
    closeList();
    locate(input.value.trim());
  });

  async function locate(q) {
    if (!q) return;
    group.clearLayers();
    result.hidden = false;
    result.innerHTML = '<span class="muted">正在查找…</span>';
    let answer;
    try {
      answer = await api("/api/v1/geocode", { params: { q } });
    } catch (err) {
      result.innerHTML = `<span class="badge badge-red">${escapeHtml(err.message)}</span>`;
      return;
    }
    if (answer.status === "ambiguous") {
      const candidates = answer.candidates || [];
      result.innerHTML = `<div>${escapeHtml(answer.message || "地址有多个可能，请选择：")}</div><ul class="candidates">${candidates
        .map((c) => `<li><a href="#" data-q="${escapeHtml(c.address || c.text || c.name)}">${escapeHtml(c.address || c.text || c.name)}</a></li>`)
        .join("")}</ul>`;
      result.querySelectorAll("a[data-q]").forEach((a) =>
        a.addEventListener("click", (e) => {
          e.preventDefault();
          input.value = a.dataset.q;
          locate(a.dataset.q);
        }),
      );
      return;
    }
    if (answer.status !== "ok" || !answer.location) {
      result.innerHTML = `<span class="badge badge-red">${escapeHtml(answer.message || "未找到该地址")}</span>`;
      return;
    }
    const at = L.latLng(answer.location.lat, answer.location.lon);
    L.circleMarker(at, { radius: 9, color: "#fff", weight: 3, fillColor: "#e03131", fillOpacity: 1 })
      .bindTooltip(escapeHtml(answer.address), { direction: "top", offset: [0, -8] })
      .addTo(group);
    const grid = answer.grid;
    result.innerHTML = `<div class="addr">${escapeHtml(answer.address)}</div>
      <div>匹配级别：${escapeHtml(MATCH_LEVELS[answer.match_level] ?? answer.match_level)} · 置信度 ${(answer.confidence * 100).toFixed(0)}%</div>
      ${grid ? `<div>所在网格：<b id="search-grid" data-code="${escapeHtml(grid.code)}">${escapeHtml(grid.name)}</b>（${escapeHtml(grid.code)}）</div>` : "<div>不在任何单元网格内</div>"}
      ${answer.message ? `<div class="muted">${escapeHtml(answer.message)}</div>` : ""}`;
    let bounds = null;
    if (grid) {
      try {
        const feature = await api(`/api/v1/grids/${grid.code}`);
        const outline = L.geoJSON(feature, {
          style: { color: "#d6336c", weight: 3.5, fillColor: "#f783ac", fillOpacity: 0.25 },
          interactive: false,
        }).addTo(group);
        bounds = outline.getBounds();
        window.civgrid.highlightedGrid = grid.code;
      } catch (err) {
        result.insertAdjacentHTML("beforeend", `<div class="muted">${escapeHtml(err.message)}</div>`);
      }
    }
    if (bounds) map.fitBounds(bounds.extend(at), { maxZoom: 17, padding: [40, 40] });
    else map.setView(at, Math.max(map.getZoom(), 16));
  }

  return { locate, group };
}

// ------------------------------------------------------------------ time filter
function isoDate(d) {
  return d.toLocaleDateString("sv-SE"); // YYYY-MM-DD in local time
}

export function initTimeFilter() {
  const from = $("time-from");
  const to = $("time-to");
  const apply = () => setFilters({ from: from.value, to: to.value });
  from.addEventListener("change", apply);
  to.addEventListener("change", apply);
  document.querySelectorAll(".time-quick [data-days]").forEach((button) =>
    button.addEventListener("click", () => {
      const days = Number(button.dataset.days);
      if (!days) {
        from.value = "";
        to.value = "";
      } else {
        const today = new Date();
        const start = new Date(today);
        start.setDate(today.getDate() - days + 1);
        from.value = isoDate(start);
        to.value = isoDate(today);
      }
      apply();
    }),
  );
}

// ------------------------------------------------------------------ range query
const RANGE_LAYERS = [
  { key: "events", title: "事件", url: "/api/v1/events", scope: "events:read", label: (p) => `${p.category_name} · ${p.state_name}`, filters: true },
  { key: "components", title: "城市部件", url: "/api/v1/components", scope: "components:read", label: (p) => `${p.class_name} ${p.name || ""}` },
  { key: "cameras", title: "视频监控", url: "/api/v1/cameras", scope: "cameras:read", label: (p) => p.name },
  { key: "civilization", title: "文明创建单位", url: "/api/v1/civilization/units", scope: "civilization:read", label: (p) => `${p.name}（${p.type_name}）` },
];  // prettier-ignore

/** The shared range-filter parameters of a drawn shape. */
export function rangeParams(shape, layer) {
  if (shape === "Circle") {
    const c = layer.getLatLng();
    return { lon: c.lng.toFixed(7), lat: c.lat.toFixed(7), radius: layer.getRadius().toFixed(2) };
  }
  if (shape === "Rectangle") {
    const b = layer.getBounds();
    return { bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(7)).join(",") };
  }
  return { polygon: JSON.stringify(layer.toGeoJSON(7).geometry) };
}

export function initRange(map, layers) {
  const box = $("range-result");
  const select = $("range-region");
  const group = L.featureGroup().addTo(map);
  let current = null;
  let controller;

  const describe = (params) => {
    if (params.radius) return `圆形 · 半径 ${formatLength(Number(params.radius))}`;
    if (params.bbox) return "矩形";
    if (params.region) return `行政区 ${select.selectedOptions[0]?.textContent || params.region}`;
    if (params.grid) return `网格 ${params.grid}`;
    return "多边形";
  };

  async function query(params) {
    current = params;
    emit("range-selected", params);
    controller?.abort();
    controller = new AbortController();
    const usable = RANGE_LAYERS.filter((l) => can(l.scope));
    box.hidden = false;
    box.innerHTML = `<div class="range-shape">${escapeHtml(describe(params))}</div><div class="muted">统计中…</div>`;
    try {
      const counts = await Promise.all(
        usable.map((l) => {
          const extra = l.filters ? layers.paramsFor("events") : {};
          return api(l.url, { params: { ...extra, ...params, count: true }, signal: controller.signal });
        }),
      );
      box.innerHTML = `<div class="range-shape">${escapeHtml(describe(params))}</div>
        <table class="data"><thead><tr><th>图层</th><th class="num">数量</th><th></th></tr></thead><tbody>${usable
          .map((l, i) => `<tr data-key="${l.key}"><td>${l.title}</td><td class="num" data-count="${l.key}">${formatCount(counts[i].count)}</td>
            <td><a href="#" data-list="${l.key}">列表</a></td></tr>`)
          .join("")}</tbody></table><div id="range-list"></div>`;
      box.querySelectorAll("a[data-list]").forEach((a) =>
        a.addEventListener("click", (e) => {
          e.preventDefault();
          list(usable.find((l) => l.key === a.dataset.list), params);
        }),
      );
      window.civgrid.rangeCounts = Object.fromEntries(usable.map((l, i) => [l.key, counts[i].count]));
    } catch (err) {
      if (err.name === "AbortError") return;
      box.innerHTML = `<span class="badge badge-red">${escapeHtml(err.message)}</span>`;
    }
  }

  async function list(layer, params) {
    const target = $("range-list");
    target.innerHTML = '<span class="muted">加载中…</span>';
    try {
      const extra = layer.filters ? layers.paramsFor("events") : {};
      const page = await api(layer.url, { params: { ...extra, ...params, page_size: 10 } });
      target.innerHTML = `<div class="muted">${layer.title}：共 ${page.count} 条${page.count > 10 ? "，显示前 10 条" : ""}</div>
        <ol class="range-items">${page.features
          .map((f) => `<li><a href="#" data-id="${escapeHtml(f.id)}" data-lon="${f.geometry?.coordinates?.[0]}" data-lat="${f.geometry?.coordinates?.[1]}">${escapeHtml(layer.label(f.properties))}</a></li>`)
          .join("")}</ol>`;
      target.querySelectorAll("a[data-id]").forEach((a) =>
        a.addEventListener("click", (e) => {
          e.preventDefault();
          const lat = Number(a.dataset.lat);
          const lon = Number(a.dataset.lon);
          if (Number.isFinite(lat) && Number.isFinite(lon)) map.setView([lat, lon], Math.max(map.getZoom(), 17));
          if (layer.key === "events") emit("event-selected", { id: Number(a.dataset.id), open: true });
        }),
      );
    } catch (err) {
      target.innerHTML = `<span class="badge badge-red">${escapeHtml(err.message)}</span>`;
    }
  }

  const clear = () => {
    group.clearLayers();
    box.hidden = true;
    current = null;
    select.value = "";
    emit("range-selected", {});
  };

  document.querySelectorAll("#range-tools [data-shape]").forEach((button) =>
    button.addEventListener("click", () => {
      clear();
      startDrawing(map, button.dataset.shape, "range");
    }),
  );
  $("range-clear").addEventListener("click", clear);

  map.on("pm:create", (e) => {
    if (drawPurpose !== "range") return;
    drawPurpose = null;
    group.clearLayers();
    e.layer.remove();
    e.layer.pm?.disable();
    e.layer.addTo(group);
    query(rangeParams(e.shape, e.layer));
  });

  // regions (or, for field staff, their grids) of the jurisdiction
  loadRegionChoices(select).catch(() => {});
  select.addEventListener("change", async () => {
    group.clearLayers();
    const value = select.value;
    if (!value) return clear();
    const kind = select.selectedOptions[0].dataset.kind;
    try {
      const feature = await api(kind === "grid" ? `/api/v1/grids/${value}` : `/api/v1/regions/${value}`);
      const outline = L.geoJSON(feature, { style: { color: "#c2255c", weight: 2.5, fillOpacity: 0.06 }, interactive: false }).addTo(group);
      map.fitBounds(outline.getBounds(), { padding: [20, 20] });
    } catch {
      /* the outline is a nicety; the counts below are what matters */
    }
    query(kind === "grid" ? { grid: value } : { region: value });
  });

  on("filters-changed", () => current && query(current));
  // another module (the event list's 清除范围) cleared the range: take the drawn shape away too
  on("range-selected", (params) => {
    if (!current || Object.keys(params || {}).length) return;
    group.clearLayers();
    box.hidden = true;
    current = null;
    select.value = "";
  });
  return { query, clear, current: () => current };
}

async function loadRegionChoices(select) {
  const j = userInfo().jurisdiction;
  let options = [];
  if (j.grids.length) {
    // a field worker's own grids, by name (the grid list is scoped to them)
    const page = await api("/api/v1/grids/", { params: { page_size: 100, simplify: 10 } }).catch(() => null);
    const names = Object.fromEntries((page?.features || []).map((f) => [f.id, f.properties.name]));
    options = j.grids.map((code) => ({ code, name: names[code] || code, kind: "grid" }));
  } else {
    const params = j.nationwide ? { level: 3, has_geometry: true } : { parent: j.region, has_geometry: true };
    const page = await api("/api/v1/regions/", { params: { ...params, page_size: 200, simplify: 1000 } });
    options = page.features.map((f) => ({ code: f.id, name: f.properties.name, kind: "region" }));
    if (j.region) options.unshift({ code: j.region, name: `${j.region_name}（全部）`, kind: "region" });
  }
  for (const o of options) {
    const option = document.createElement("option");
    option.value = o.code;
    option.textContent = o.name;
    option.dataset.kind = o.kind;
    select.append(option);
  }
}

// ------------------------------------------------------------------ measure
export function initMeasure(map) {
  const box = $("measure-result");
  const group = L.featureGroup().addTo(map);
  $("measure-line").addEventListener("click", () => startDrawing(map, "Line", "measure"));
  $("measure-area").addEventListener("click", () => startDrawing(map, "Polygon", "measure"));
  $("measure-clear").addEventListener("click", () => {
    group.clearLayers();
    box.hidden = true;
  });
  map.on("pm:create", (e) => {
    if (drawPurpose !== "measure") return;
    drawPurpose = null;
    e.layer.remove();
    e.layer.pm?.disable();
    e.layer.addTo(group);
    let text;
    let tip;
    if (e.shape === "Line") {
      const metres = pathLength(e.layer.getLatLngs());
      text = `距离 <b id="measure-value" data-metres="${metres.toFixed(2)}">${formatLength(metres)}</b>`;
      tip = formatLength(metres);
    } else {
      const m2 = area(e.layer.toGeoJSON());
      const ring = e.layer.getLatLngs()[0];
      const perimeter = pathLength([...ring, ring[0]]);
      text = `面积 <b id="measure-value" data-m2="${m2.toFixed(2)}">${formatArea(m2)}</b><br>周长 ${formatLength(perimeter)}`;
      tip = formatArea(m2);
    }
    box.hidden = false;
    box.innerHTML = text;
    e.layer.bindTooltip(tip, { permanent: true, direction: "center", className: "measure-tip" }).openTooltip();
  });
}
