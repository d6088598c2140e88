// 网格员 (field page, phones): locate me, report an event with photos and category, my tasks
// and my grids. A phone's position is GCJ-02 (what Chinese phones and map apps give): it is sent
// as is with crs=gcj02 and converted by the server; only the "me" marker on our WGS84 base map
// is converted here (gcoord, pinned npm). Each report carries a client id (UUID) kept until the
// server has answered, so a resend after a lost answer cannot report the event twice.
import { api, createMap, escapeHtml, toast, userInfo } from "./core.js";

const L = window.L;
const gcoord = window.gcoord;
const $ = (id) => document.getElementById(id);

const OPEN_STATES = ["reported", "verified", "registered", "dispatched", "handled", "checked", "suspended"];
const MY_STEP = { reported: "待核实", handled: "待核查" }; // the steps a grid worker does on site
const COLOUR = { green: "#2fa84f", yellow: "#f5a524", red: "#e5484d" };

const map = createMap($("field-map"), { coords: false });
const gridLayer = L.featureGroup().addTo(map);
const taskLayer = L.layerGroup().addTo(map);
let me = null; // marker
let point = null; // {lon, lat, crs} as it will be sent
let clientId = newClientId();

function newClientId() {
  if (window.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16)); // plain-http intranets: no randomUUID
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ------------------------------------------------------------------ tabs
function show(tab) {
  for (const name of ["report", "tasks"]) {
    $(`tab-${name}`).setAttribute("aria-selected", String(name === tab));
    $(`pane-${name}`).hidden = name !== tab;
  }
}
$("tab-report").addEventListener("click", () => show("report"));
$("tab-tasks").addEventListener("click", () => show("tasks"));

// ------------------------------------------------------------------ my grids
async function loadGrids() {
  const codes = userInfo()?.jurisdiction?.grids || [];
  const grids = await Promise.all(codes.map((code) => api(`/api/v1/grids/${code}`)));
  for (const grid of grids) {
    L.geoJSON(grid, { style: { color: "#1f6feb", weight: 2.5, fillColor: "#1f6feb", fillOpacity: 0.08 } })
      .bindTooltip(grid.properties.name, { permanent: grids.length <= 4, direction: "center", className: "grid-label" })
      .addTo(gridLayer);
  }
  if (grids.length) map.fitBounds(gridLayer.getBounds(), { padding: [16, 16] });
}

// ------------------------------------------------------------------ where am I
async function setPoint(next, wgs, accuracy) {
  point = next;
  if (!me) {
    me = L.marker(wgs, { icon: L.divIcon({ className: "me-marker", iconSize: [16, 16], html: "<span></span>" }), zIndexOffset: 1000 }).addTo(map);
  } else {
    me.setLatLng(wgs);
  }
  map.setView(wgs, Math.max(map.getZoom(), 17));
  const where = $("field-where");
  const label = next.crs === "gcj02" ? "定位" : "地图选点";
  where.textContent = `${label}：${next.lon.toFixed(6)}, ${next.lat.toFixed(6)}${accuracy ? `（±${Math.round(accuracy)} 米）` : ""}`;
  where.dataset.crs = next.crs;
  try {
    const located = await api("/api/v1/locate", { method: "POST", body: { crs: next.crs, points: [[next.lon, next.lat]] } });
    const hit = located.results[0];
    where.textContent += hit.inside && hit.grid ? ` · ${hit.grid.name}` : " · 不在管辖网格内";
    where.dataset.grid = hit.grid?.code || "";
  } catch (err) {
    where.textContent += ` · ${err.message}`;
  }
}

function locate() {
  if (!navigator.geolocation) {
    toast("此设备不支持定位，请在地图上点选位置", "error");
    return;
  }
  $("locate-me").disabled = true;
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      $("locate-me").disabled = false;
      const { longitude: lon, latitude: lat, accuracy } = pos.coords;
      const [x, y] = gcoord.transform([lon, lat], gcoord.GCJ02, gcoord.WGS84);
      setPoint({ lon, lat, crs: "gcj02" }, [y, x], accuracy);
    },
    (err) => {
      $("locate-me").disabled = false;
      const why = { 1: "未允许定位", 2: "无法获取位置", 3: "定位超时" }[err.code] || err.message;
      toast(`${why}，可在地图上点选位置`, "error");
    },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 },
  );
}
$("locate-me").addEventListener("click", locate);
map.on("click", (e) => setPoint({ lon: e.latlng.lng, lat: e.latlng.lat, crs: "wgs84" }, e.latlng));

// ------------------------------------------------------------------ categories
async function loadCategories() {
  const tree = await api("/api/v1/event-categories");
  const select = $("report-category");
  select.innerHTML = '<option value="">请选择类别</option>';
  for (const major of tree.results) {
    const group = document.createElement("optgroup");
    group.label = `${major.name}（${major.kind_name}）`;
    for (const minor of major.children || []) group.append(new Option(minor.name, minor.code));
    select.append(group);
  }
}

// ------------------------------------------------------------------ reporting
$("report-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const category = $("report-category").value;
  if (!point) return toast("请先定位或在地图上点选位置", "error");
  if (!category) return toast("请选择事件类别", "error");
  const form = new FormData();
  form.set("category", category);
  form.set("description", $("report-description").value.trim());
  form.set("lon", point.lon.toFixed(7));
  form.set("lat", point.lat.toFixed(7));
  form.set("crs", point.crs);
  form.set("source", "field");
  form.set("client_id", clientId);
  for (const file of $("report-photo").files) form.append("photos", file);
  const button = $("report-submit");
  button.disabled = true;
  try {
    const event = await api("/api/v1/events", { method: "POST", form });
    toast(event.created === false ? `该事件已上报过（编号 ${event.id}）` : `上报成功，事件编号 ${event.id}`);
    $("report-form").dataset.lastEvent = String(event.id);
    $("report-form").reset();
    clientId = newClientId(); // answered: the next report is a new event
    await loadTasks();
  } catch (err) {
    toast(err.message, "error"); // the same client id is sent again on retry
  } finally {
    button.disabled = false;
  }
});

// ------------------------------------------------------------------ my tasks
async function loadTasks() {
  const body = await api("/api/v1/events", { params: { state: OPEN_STATES.join(","), page_size: 50 } });
  taskLayer.clearLayers();
  $("task-count").textContent = String(body.count);
  const list = $("task-list");
  if (!body.features.length) {
    list.innerHTML = '<div class="muted">暂无任务</div>';
    return;
  }
  list.innerHTML = body.features
    .map((f) => {
      const p = f.properties;
      const mine = MY_STEP[p.state];
      const colour = p.colour ? `<span class="badge badge-${p.colour}">${{ green: "正常", yellow: "预警", red: "超时" }[p.colour]}</span>` : "";
      const when = new Date(p.reported_at).toLocaleString("zh-CN", { hour12: false });
      return `<div class="task" data-id="${f.id}" data-lat="${f.geometry.coordinates[1]}" data-lon="${f.geometry.coordinates[0]}">
        <div class="task-head"><b>#${f.id} ${escapeHtml(p.category_name)}</b><span>${mine ? `<span class="badge badge-yellow">${mine}</span>` : `<span class="badge">${escapeHtml(p.state_name)}</span>`} ${colour}</span></div>
        <div>${escapeHtml(p.description || "")}</div>
        <div class="task-meta">${escapeHtml(p.address || p.grid_code || "")} · ${when}</div>
      </div>`;
    })
    .join("");
  for (const f of body.features) {
    const [lon, lat] = f.geometry.coordinates;
    L.circleMarker([lat, lon], { radius: 6, color: "#fff", weight: 1.5, fillColor: COLOUR[f.properties.colour] || "#8a94a6", fillOpacity: 1 })
      .bindTooltip(`#${f.id} ${f.properties.category_name}`)
      .addTo(taskLayer);
  }
}
$("task-list").addEventListener("click", (e) => {
  const task = e.target.closest(".task");
  if (task) map.setView([Number(task.dataset.lat), Number(task.dataset.lon)], 18);
});

loadGrids().catch((err) => toast(err.message, "error"));
loadCategories().catch((err) => toast(err.message, "error"));
loadTasks().catch((err) => toast(err.message, "error"));
