// 事件列表: the events of the map's view (or of the drawn range) under the filters, a page at
// a time from GET /api/v1/events (POST /api/v1/events/search when a drawn shape is too long
// for a URL), with the count, CSV/Excel export links of the same query, and a click that
// selects the event (bus "event-selected", with its point; the detail panel opens it).
import { api, cookie, query, toast } from "../core.js";
import { colourBadge, fill, fmtTime, h, loadVocabulary } from "./util.js";

const PAGE_SIZE = 20;
const URL_LIMIT = 4000; // longer queries (drawn polygons) go as a JSON body

function option(value, text, selected = false) {
  return h("option", { value, selected }, text);
}

function longParams(params) {
  return Boolean(params.polygon || params.line) || query(params).length > URL_LIMIT;
}

/** GET when the query fits in a URL, else POST /events/search (page stays in the query string). */
function fetchEvents(params, page) {
  const wire = { ...params };
  for (const key of ["polygon", "line"]) {
    if (wire[key] && typeof wire[key] === "object") wire[key] = JSON.stringify(wire[key]);
  }
  if (longParams(wire)) {
    return api("/api/v1/events/search", {
      method: "POST",
      params: { page, page_size: PAGE_SIZE },
      body: wire,
    });
  }
  return api("/api/v1/events", { params: { ...wire, page, page_size: PAGE_SIZE } });
}

/** Download an export of a long query (POST, so it is not a link). */
async function downloadPosted(params, fmt) {
  const response = await fetch("/api/v1/events/search", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken") },
    body: JSON.stringify({ ...params, export: fmt }),
  });
  if (!response.ok) {
    let message = `导出失败（${response.status}）`;
    try {
      message = (await response.json()).error.message || message;
    } catch {
      /* not JSON */
    }
    throw new Error(message);
  }
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: `events.${fmt}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export async function initList({ root, state, bus }) {
  const form = root.querySelector("form.cgp-filters");
  const countEl = root.querySelector("[data-role=count]");
  const rangeEl = root.querySelector("[data-role=range]");
  const clearRange = root.querySelector("[data-role=clear-range]");
  const listEl = root.querySelector("[data-role=events]");
  const pagerEl = root.querySelector("[data-role=pager]");
  const csv = root.querySelector("[data-role=export-csv]");
  const xlsx = root.querySelector("[data-role=export-xlsx]");
  let page = 1;
  let seq = 0;
  let selected = null;
  let timer = null;

  const vocab = await loadVocabulary();
  const major = form.elements.major;
  const minor = form.elements.minor;
  fill(major, option("", "全部大类"), vocab.majors.map((m) => option(m.code, `${m.name}（${m.kind_name}）`)));
  const fillMinor = () => {
    const chosen = vocab.majors.find((m) => m.code === major.value);
    fill(minor, option("", "全部小类"), (chosen?.children || []).map((c) => option(c.code, c.name)));
    minor.disabled = !chosen;
  };
  fillMinor();
  fill(form.elements.state, option("", "全部状态"), vocab.states.map((s) => option(s.state, s.name)));
  fill(form.elements.source, option("", "全部来源"), vocab.sources.map((s) => option(s.source, s.name)));

  const formFilters = () => {
    const f = form.elements;
    return {
      category: f.minor.value || f.major.value,
      state: f.state.value,
      source: f.source.value,
      colour: f.colour.value,
      overdue: f.overdue.value,
    };
  };

  form.addEventListener("change", (e) => {
    if (e.target === major) fillMinor();
    page = 1;
    state.setOwn(formFilters());
  });
  form.addEventListener("reset", () => {
    setTimeout(() => {
      fillMinor();
      page = 1;
      state.setOwn(formFilters());
    });
  });
  form.addEventListener("submit", (e) => e.preventDefault());
  clearRange.addEventListener("click", () => state.clearRange());

  function exportLinks(params) {
    for (const [a, fmt] of [
      [csv, "csv"],
      [xlsx, "xlsx"],
    ]) {
      if (longParams(params)) {
        a.href = "#";
        a.onclick = (e) => {
          e.preventDefault();
          downloadPosted(params, fmt).catch((err) => toast(err.message, "error"));
        };
      } else {
        a.href = `/api/v1/events?${query({ ...params, export: fmt })}`;
        a.onclick = null;
      }
    }
  }

  function row(feature) {
    const p = feature.properties;
    const id = feature.id;
    return h(
      "li.cgp-event",
      { dataset: { id: String(id) }, "aria-selected": String(id === selected) },
      h(
        "button.cgp-event-btn",
        { type: "button", title: "查看详情", onclick: () => select(id, feature.geometry?.coordinates) },
        h(
          "span.cgp-event-head",
          {},
          colourBadge(p.colour),
          h("b.cgp-event-cat", {}, p.category_name),
          h("span.cgp-event-state", { dataset: { state: p.state } }, p.state_name),
          h("span.cgp-event-id", {}, `#${id}`),
        ),
        h("span.cgp-event-addr", {}, p.address || p.grid_code || ""),
        h("span.cgp-event-time", {}, `上报 ${fmtTime(p.reported_at)} · ${p.source_name}`),
      ),
    );
  }

  function select(id, [lon, lat] = []) {
    selected = id;
    for (const li of listEl.children) li.setAttribute("aria-selected", String(li.dataset.id === String(id)));
    bus.dispatchEvent(new CustomEvent("event-selected", { detail: { id, lon, lat } }));
  }

  function pager(total) {
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    fill(
      pagerEl,
      h("button", { type: "button", disabled: page <= 1, onclick: () => load(page - 1), "data-role": "prev" }, "上一页"),
      h("span", { "data-role": "page" }, `第 ${page} / ${pages} 页`),
      h("button", { type: "button", disabled: page >= pages, onclick: () => load(page + 1), "data-role": "next" }, "下一页"),
    );
  }

  async function load(toPage = page) {
    const params = state.listParams();
    const mine = ++seq;
    root.classList.add("cgp-loading");
    rangeEl.textContent = state.rangeLabel();
    clearRange.hidden = !state.range;
    exportLinks(params);
    try {
      const body = await fetchEvents(params, toPage);
      if (mine !== seq) return; // a newer query answered or will answer
      page = toPage;
      countEl.textContent = String(body.count);
      root.dataset.count = String(body.count);
      fill(listEl, body.features.length ? body.features.map(row) : h("li.cgp-empty", {}, "没有符合条件的事件"));
      pager(body.count);
    } catch (err) {
      if (mine !== seq) return;
      if (err.status === 404 && toPage > 1) return load(1); // the page vanished under the filters
      countEl.textContent = "—";
      fill(listEl, h("li.cgp-empty.cgp-error", {}, err.message || "加载失败"));
      toast(err.message || "事件列表加载失败", "error");
    } finally {
      if (mine === seq) {
        root.classList.remove("cgp-loading");
        root.dataset.loaded = String(mine);
      }
    }
  }

  state.addEventListener("changed", () => {
    clearTimeout(timer);
    timer = setTimeout(() => load(1), 250); // the map moves in bursts
  });
  bus.addEventListener("event-changed", () => load(page));
  bus.addEventListener("event-selected", (e) => {
    selected = e.detail?.id ?? null;
    for (const li of listEl.children) li.setAttribute("aria-selected", String(li.dataset.id === String(selected)));
  });
  await load(1);
  return { reload: () => load(page) };
}
