// 轨迹回放: pick a person and a day, GET /api/v1/staff/{id}/track, animate by elapsed time.
// The API's path is [[lon, lat, seconds since start], …]: the marker is placed by time
// (interpolated between vertices), not by vertex, so 8× is eight times real speed.
import { api, createMap, escapeHtml, toast } from "./core.js";

const L = window.L;
const $ = (id) => document.getElementById(id);

const map = createMap($("track-map"));
const layers = L.layerGroup().addTo(map);
let track = null; // the API answer
let path = []; // [[lat, lon, s], …]
let t = 0; // seconds since the start
let playing = false;
let lastFrame = 0;
let marker = null;
let done = null; // the travelled part

// ------------------------------------------------------------------ formatting
const pad = (n) => String(n).padStart(2, "0");
function duration(s) {
  const h = Math.floor(s / 3600);
  const m = Math.round((s % 3600) / 60);
  return h ? `${h} 小时 ${m} 分` : `${m} 分`;
}
function clock(iso) {
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function localDate(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

// ------------------------------------------------------------------ people
let staff = [];
async function loadStaff() {
  const q = $("track-q").value.trim();
  const body = await api("/api/v1/grid-staff", { params: { q, limit: 200 } });
  // people with a recent position first: they are the ones with a track to play
  staff = body.results.sort((a, b) => (b.last_position_at || "").localeCompare(a.last_position_at || ""));
  const select = $("track-staff");
  select.innerHTML = staff.length ? "" : '<option value="">没有匹配的网格员</option>';
  for (const person of staff) {
    const option = document.createElement("option");
    option.value = person.id;
    const last = person.last_position_at ? ` · 最近定位 ${localDate(new Date(person.last_position_at))}` : "";
    option.textContent = `${person.name}（${person.role_name}）${last}`;
    select.append(option);
  }
  pickDefaultDate();
}

function pickDefaultDate() {
  const person = staff.find((p) => String(p.id) === $("track-staff").value);
  const when = person && person.last_position_at ? new Date(person.last_position_at) : new Date();
  $("track-date").value = localDate(when);
}

// ------------------------------------------------------------------ loading a track
async function loadTrack() {
  const id = $("track-staff").value;
  const day = $("track-date").value;
  if (!id || !day) {
    toast("请选择网格员和日期", "error");
    return;
  }
  pause();
  try {
    track = await api(`/api/v1/staff/${id}/track`, {
      params: { from: `${day}T00:00:00`, to: `${day}T23:59:59`, zoom: 17 },
    });
  } catch (err) {
    toast(err.message, "error");
    return;
  }
  draw();
}

function draw() {
  layers.clearLayers();
  path = (track.path || []).map(([lon, lat, s]) => [lat, lon, s]);
  const empty = path.length < 2;
  $("track-play").disabled = empty;
  $("track-slider").disabled = empty;
  showStats();
  if (empty) {
    toast("该日没有轨迹", "info");
    marker = done = null;
    return;
  }
  L.polyline(path.map(([lat, lon]) => [lat, lon]), { color: "#8a94a6", weight: 3, opacity: 0.7 }).addTo(layers);
  for (const patrol of track.patrols || []) {
    L.polyline(patrol.path.map(([lon, lat]) => [lat, lon]), { color: "#1f6feb", weight: 2, opacity: 0.5, dashArray: "4 4" })
      .bindTooltip(`巡查 ${clock(patrol.start)}–${clock(patrol.end)}，${(patrol.mileage_m / 1000).toFixed(2)} 公里`)
      .addTo(layers);
  }
  (track.stops || []).forEach((stop, i) => {
    L.circleMarker([stop.lat, stop.lon], { radius: 7, color: "#b4232a", fillColor: "#f5a524", fillOpacity: 0.9, weight: 2 })
      .bindTooltip(`停留 ${i + 1}：${clock(stop.start)}–${clock(stop.end)}（${duration(stop.duration_s)}）`)
      .addTo(layers);
  });
  L.circleMarker(path[0], { radius: 6, color: "#fff", fillColor: "#2fa84f", fillOpacity: 1, weight: 2 }).bindTooltip("起点").addTo(layers);
  L.circleMarker(path.at(-1), { radius: 6, color: "#fff", fillColor: "#e5484d", fillOpacity: 1, weight: 2 }).bindTooltip("终点").addTo(layers);
  done = L.polyline([], { color: "#1f6feb", weight: 5 }).addTo(layers);
  marker = L.marker(path[0], {
    icon: L.divIcon({ className: "track-marker", iconSize: [18, 18], html: "<span></span>" }),
    zIndexOffset: 1000,
    title: track.staff.name,
  }).addTo(layers);
  map.fitBounds(L.latLngBounds(path.map(([lat, lon]) => [lat, lon])), { padding: [30, 30] });
  $("track-slider").max = String(Math.ceil(path.at(-1)[2]));
  seek(0);
}

function showStats() {
  const fmt = (m) => `${(m / 1000).toFixed(2)} 公里`;
  $("track-mileage").textContent = track ? `${fmt(track.mileage_m)}（巡查 ${fmt(track.patrol_mileage_m)}）` : "—";
  $("track-duration").textContent = track ? duration(track.patrol_duration_s) : "—";
  $("track-patrols").textContent = track ? `${track.patrols.length} 次` : "—";
  $("track-stops-count").textContent = track ? `${track.stops.length} 处` : "—";
  $("track-window").textContent = track && track.start ? `${clock(track.start)} – ${clock(track.end)}` : "—";
  const items = [];
  for (const p of track?.patrols || []) {
    items.push({ s: p.start, html: `<b>巡查</b> ${clock(p.start)}–${clock(p.end)} · ${(p.mileage_m / 1000).toFixed(2)} 公里 · ${duration(p.duration_s)} · ${p.avg_speed_kmh} km/h` });
  }
  for (const s of track?.stops || []) {
    items.push({ s: s.start, html: `<b class="stop">停留</b> ${clock(s.start)}–${clock(s.end)} · ${duration(s.duration_s)}` });
  }
  items.sort((a, b) => a.s.localeCompare(b.s));
  $("track-list").innerHTML = items.length
    ? items.map((i) => `<li data-start="${escapeHtml(i.s)}">${i.html}</li>`).join("")
    : '<li class="muted">该时段没有巡查记录</li>';
}

// ------------------------------------------------------------------ playing
function positionAt(s) {
  let lo = 0;
  let hi = path.length - 1;
  if (s <= path[0][2]) return { latlng: [path[0][0], path[0][1]], index: 0 };
  if (s >= path[hi][2]) return { latlng: [path[hi][0], path[hi][1]], index: hi };
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (path[mid][2] <= s) lo = mid;
    else hi = mid;
  }
  const [la0, lo0, s0] = path[lo];
  const [la1, lo1, s1] = path[hi];
  const f = s1 > s0 ? (s - s0) / (s1 - s0) : 0;
  return { latlng: [la0 + (la1 - la0) * f, lo0 + (lo1 - lo0) * f], index: lo };
}

function seek(s) {
  if (!path.length) return;
  t = Math.max(0, Math.min(s, path.at(-1)[2]));
  const { latlng, index } = positionAt(t);
  marker.setLatLng(latlng);
  done.setLatLngs([...path.slice(0, index + 1).map(([lat, lon]) => [lat, lon]), latlng]);
  const now = $("track-now");
  now.textContent = clock(new Date(new Date(track.start).getTime() + t * 1000));
  now.dataset.t = String(Math.round(t));
  now.dataset.lat = latlng[0].toFixed(7);
  now.dataset.lon = latlng[1].toFixed(7);
  $("track-elapsed").textContent = `已用时 ${duration(t)}`;
  $("track-slider").value = String(Math.round(t));
  if ($("track-follow").checked && playing && !map.getBounds().pad(-0.2).contains(latlng)) {
    map.panTo(latlng, { animate: false });
  }
}

/** With "skip": a silence longer than a minute between two vertices is jumped over. */
function skipIdle(s) {
  if (!$("track-skip").checked) return s;
  const { index } = positionAt(s);
  const next = path[index + 1];
  if (next && next[2] - path[index][2] > 60) return next[2];
  return s;
}

function frame(now) {
  if (!playing) return;
  const dt = (now - lastFrame) / 1000;
  lastFrame = now;
  const speed = Number($("track-speed").value);
  const next = skipIdle(t + dt * speed);
  seek(next);
  if (t >= path.at(-1)[2]) {
    pause();
    toast("回放结束");
    return;
  }
  requestAnimationFrame(frame);
}

function play() {
  if (!path.length) return;
  if (t >= path.at(-1)[2]) seek(0);
  playing = true;
  $("track-play").textContent = "⏸ 暂停";
  $("track-play").setAttribute("aria-pressed", "true");
  lastFrame = performance.now();
  requestAnimationFrame(frame);
}

function pause() {
  playing = false;
  $("track-play").textContent = "▶ 播放";
  $("track-play").setAttribute("aria-pressed", "false");
}

// ------------------------------------------------------------------ wiring
$("track-play").addEventListener("click", () => (playing ? pause() : play()));
$("track-slider").addEventListener("input", (e) => seek(Number(e.target.value)));
$("track-load").addEventListener("click", loadTrack);
$("track-staff").addEventListener("change", pickDefaultDate);
let typing;
$("track-q").addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(() => loadStaff().catch((err) => toast(err.message, "error")), 300);
});
$("track-list").addEventListener("click", (e) => {
  const item = e.target.closest("li[data-start]");
  if (!item || !track) return;
  seek((new Date(item.dataset.start) - new Date(track.start)) / 1000);
});
loadStaff().catch((err) => toast(err.message, "error"));
