// 事件详情: one event from GET /api/v1/events/{id} — fields, photos, location, grid and region
// chain, the timeliness colour, the history of its lifecycle, and the actions the server says
// this user may take now (allowed_actions) as buttons, each asking for the required note.
// An action posts to /transitions (merge: /merge) with the state it was based on, so a stale
// view gets 409 and is refreshed; after an action the detail is redrawn and the page is told
// (bus "event-changed").
import { api, toast } from "../core.js";
import { COLOUR_NAMES, colourBadge, fill, fmtTime, h } from "./util.js";

const NEEDS_DEPARTMENT = new Set(["dispatch", "reassign"]);
const TAKES_PHOTOS = new Set(["verify", "handle", "check", "return"]);
const DANGER = new Set(["invalidate", "return", "suspend", "merge"]);

function actorName(actor) {
  if (!actor) return "—";
  const [kind, name] = actor.includes(":") ? actor.split(/:(.*)/s) : ["", actor];
  if (kind === "user") return name;
  if (kind === "key") return `接口密钥 ${name}`;
  if (kind === "system") return "系统";
  return actor;
}

function field(label, ...value) {
  return [h("dt", {}, label), h("dd", {}, ...value)];
}

let departments = null;
function loadDepartments() {
  if (!departments) {
    departments = api("/api/v1/event-departments").then((b) => b.results);
    departments.catch(() => {
      departments = null;
    });
  }
  return departments;
}

export function initDetail({ root, map, bus, showTab }) {
  const body = root.querySelector("[data-role=detail]");
  let current = null; // the event shown (the API's feature)
  let seq = 0;

  function empty() {
    current = null;
    delete root.dataset.eventId;
    fill(body, h("p.cgp-hint", {}, "在事件列表或地图上点选一个事件，查看详情与处置流程。"));
  }

  /** Tell the page where the event shown is (center.js brings it into view and marks it). */
  function locate(event) {
    const [lon, lat] = event.geometry?.coordinates || [];
    if (lon !== undefined) bus.dispatchEvent(new CustomEvent("event-selected", { detail: { id: event.id, lon, lat } }));
  }

  async function open(id, { quiet = false, andLocate = false } = {}) {
    const mine = ++seq;
    if (!quiet) fill(body, h("p.cgp-hint", {}, "正在加载事件详情…"));
    try {
      const event = await api(`/api/v1/events/${id}`);
      if (mine !== seq) return;
      render(event);
      if (andLocate) locate(event);
    } catch (err) {
      if (mine !== seq) return;
      current = null;
      fill(body, h("p.cgp-error", {}, err.message || "事件详情加载失败"));
      if (err.status !== 404) toast(err.message || "事件详情加载失败", "error");
    }
  }

  function render(event) {
    current = event;
    const p = event.properties;
    root.dataset.eventId = String(event.id);
    root.dataset.state = p.state;
    const [lon, lat] = event.geometry?.coordinates || [];
    const chainEl = h("dd", { "data-role": "chain" }, [p.district_code, p.street_code, p.region_code].filter(Boolean).join(" / "));
    const gridEl = h("span", { "data-role": "grid" }, p.grid_code || "—");
    fill(
      body,
      h(
        "header.cgp-detail-head",
        {},
        h("h3", {}, `${p.category_name}`, h("small", {}, ` #${event.id}`)),
        h(
          "div.cgp-detail-badges",
          {},
          h("span.cgp-state", { "data-role": "state", dataset: { state: p.state } }, p.state_name),
          colourBadge(p.colour),
          p.escalation_level ? h("span.cgp-escalated", {}, `督办 ${p.escalation_level} 级`) : null,
        ),
      ),
      h(
        "dl.cgp-fields",
        {},
        field("分类", `${p.major_name || ""} / ${p.category_name}（${p.category}）`),
        field("描述", p.description || "—"),
        field("来源", p.source_name),
        field("地址", p.address || "—"),
        field(
          "位置",
          lon === undefined ? "—" : `${lon.toFixed(6)}, ${lat.toFixed(6)}`,
          lon === undefined
            ? null
            : h(
                "button.cgp-link",
                { type: "button", onclick: () => map?.setView([lat, lon], Math.max(map.getZoom(), 17)) },
                "在地图上定位",
              ),
        ),
        field("单元网格", gridEl),
        [h("dt", {}, "所属区划"), chainEl],
        field("处置部门", p.department_name || "—"),
        field("上报时间", fmtTime(p.reported_at)),
        field(
          "本环节时限",
          p.due_at ? fmtTime(p.due_at) : "—",
          p.colour ? h("span.cgp-muted", {}, `（${COLOUR_NAMES[p.colour]}，预警 ${fmtTime(p.warn_at)}）`) : null,
        ),
        p.closed_at ? field("结束时间", fmtTime(p.closed_at)) : null,
        p.duplicate_of ? field("合并到", `#${p.duplicate_of}`) : null,
      ),
      attachments(p.attachments || []),
      actions(event),
      history(p.transitions || [], p.attachments || []),
    );
    if (p.grid_code) {
      // the grid's name and its region chain (one request; absent when out of scope)
      api(`/api/v1/grids/${p.grid_code}`)
        .then((grid) => {
          if (current !== event) return;
          gridEl.textContent = `${grid.properties.name}（${p.grid_code}）`;
          chainEl.textContent = grid.properties.chain.map((r) => r.name).join(" › ");
        })
        .catch(() => {});
    }
  }

  function attachments(list) {
    if (!list.length) return null;
    return h(
      "section.cgp-attachments",
      {},
      h("h4", {}, `附件（${list.length}）`),
      h(
        "div.cgp-thumbs",
        {},
        list.map((a) =>
          a.kind === "audio"
            ? h("audio", { controls: true, src: a.url, title: a.original_name })
            : h(
                "a.cgp-thumb",
                { href: a.url, target: "_blank", rel: "noopener", title: a.original_name || "照片" },
                h("img", { src: a.thumbnail_url || a.url, alt: a.original_name || "事件照片", loading: "lazy" }),
              ),
        ),
      ),
    );
  }

  function history(transitions, files) {
    const filesOf = (t) => files.filter((a) => a.transition === t.id).length;
    return h(
      "section.cgp-history",
      {},
      h("h4", {}, "处置流程"),
      h(
        "ol.cgp-timeline",
        { "data-role": "history" },
        transitions.map((t) =>
          h(
            "li",
            { dataset: { action: t.action, toState: t.to_state } },
            h(
              "div.cgp-step",
              {},
              h("b", {}, t.action_name),
              t.department_name ? h("span", {}, ` → ${t.department_name}`) : null,
              t.on_time === true ? h("span.cgp-ontime", {}, "按期") : null,
              t.on_time === false ? h("span.cgp-late", {}, "超期") : null,
            ),
            h("div.cgp-step-meta", {}, `${fmtTime(t.at)} · ${actorName(t.actor)}`),
            t.note ? h("div.cgp-step-note", {}, t.note) : null,
            filesOf(t) ? h("div.cgp-step-meta", {}, `附件 ${filesOf(t)} 个（见上方附件）`) : null,
          ),
        ),
      ),
    );
  }

  function actions(event) {
    const allowed = event.properties.allowed_actions || [];
    if (!allowed.length) return h("section.cgp-actions", { "data-role": "actions" });
    const formHolder = h("div.cgp-action-form");
    return h(
      "section.cgp-actions",
      { "data-role": "actions" },
      h("h4", {}, "可进行的操作"),
      h(
        "div.cgp-action-buttons",
        {},
        allowed.map((a) =>
          h(
            `button.cgp-action${DANGER.has(a.action) ? ".cgp-danger" : ""}`,
            { type: "button", dataset: { action: a.action }, onclick: () => actionForm(event, a, formHolder) },
            a.name,
          ),
        ),
      ),
      formHolder,
    );
  }

  async function actionForm(event, action, holder) {
    const note = h("textarea", { name: "note", required: true, rows: 3, maxlength: 2000, placeholder: "请填写处理意见（必填）" });
    const extra = [];
    let department = null;
    let original = null;
    let photos = null;
    if (NEEDS_DEPARTMENT.has(action.action)) {
      department = h("select", { name: "department" }, h("option", { value: "" }, "默认（网格入格部门或分类的处置部门）"));
      extra.push(h("label", {}, "处置部门", department));
      loadDepartments()
        .then((list) => {
          for (const d of list) department.append(h("option", { value: String(d.id) }, `${d.name}（${d.region_code}）`));
        })
        .catch((err) => toast(err.message, "error"));
    }
    if (action.action === "merge") {
      original = h("input", { name: "original", type: "number", min: 1, required: true, placeholder: "原事件编号" });
      const candidates = h("div.cgp-muted", {}, "正在查找附近的可能重复事件…");
      extra.push(h("label", {}, "合并到原事件", original), candidates);
      api(`/api/v1/events/${event.id}/duplicates`)
        .then((d) =>
          fill(
            candidates,
            d.results.length
              ? d.results.map((c) =>
                  h(
                    "button.cgp-link",
                    { type: "button", onclick: () => (original.value = String(c.id)) },
                    `#${c.id} ${c.category_name} ${c.state_name}（${c.distance_m} 米）`,
                  ),
                )
              : "附近没有可能重复的事件",
          ),
        )
        .catch(() => fill(candidates, ""));
    }
    if (TAKES_PHOTOS.has(action.action)) {
      photos = h("input", { name: "photos", type: "file", accept: "image/*,audio/*", multiple: true });
      extra.push(h("label", {}, "现场照片（可选）", photos));
    }
    const submit = h("button.cgp-primary", { type: "submit" }, `确认${action.name}`);
    const form = h(
      "form.cgp-transition",
      { dataset: { action: action.action } },
      h("h5", {}, `${action.name}：事件 #${event.id}`),
      ...extra,
      h("label", {}, "处理意见", note),
      h("div.cgp-form-buttons", {}, submit, h("button", { type: "button", onclick: () => fill(holder) }, "取消")),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = note.value.trim();
      if (!text) {
        note.setCustomValidity("请填写处理意见");
        note.reportValidity();
        return;
      }
      note.setCustomValidity("");
      submit.disabled = true;
      try {
        const updated = await send(event, action.action, { note: text, department, original, photos });
        toast(`已${action.name}：事件 #${event.id}`);
        render(updated);
        bus.dispatchEvent(new CustomEvent("event-changed", { detail: { id: event.id, origin: "panels" } }));
      } catch (err) {
        submit.disabled = false;
        toast(err.message || `${action.name}失败`, "error");
        if (err.status === 409 || err.status === 404) open(event.id, { quiet: true }); // the event moved on
      }
    });
    note.addEventListener("input", () => note.setCustomValidity(""));
    fill(holder, form);
    note.focus();
  }

  function send(event, action, { note, department, original, photos }) {
    const id = event.id;
    if (action === "merge") {
      return api(`/api/v1/events/${id}/merge`, { method: "POST", body: { original: Number(original.value), note } });
    }
    const data = { action, note, state: event.properties.state };
    if (department?.value) data.department = Number(department.value);
    if (photos?.files?.length) {
      const form = new FormData();
      for (const [key, value] of Object.entries(data)) form.append(key, String(value));
      for (const file of photos.files) form.append("photos", file);
      return api(`/api/v1/events/${id}/transitions`, { method: "POST", form });
    }
    return api(`/api/v1/events/${id}/transitions`, { method: "POST", body: data });
  }

  bus.addEventListener("event-selected", (e) => {
    const id = Number(e.detail?.id);
    if (!Number.isInteger(id) || id <= 0) return;
    showTab("detail");
    // locate: the selection came without a point (a notice, notifications.js): the map learns it here
    const andLocate = Boolean(e.detail?.locate);
    if (current && current.id === id) {
      if (andLocate) locate(current);
      return;
    }
    open(id, { andLocate });
  });
  bus.addEventListener("event-changed", (e) => {
    const id = Number(e.detail?.id);
    if (current && id === current.id && e.detail?.origin !== "panels") open(id, { quiet: true });
  });
  empty();
  return { open };
}
