// 通知铃: the overdue (超时) and escalation (升级督办) notices the beat task leaves for the
// operators of a region (events/services/escalation.py), in the command center's top bar.
// GET /api/v1/notifications every 30 s while the tab is visible (paused when hidden): the unread
// ones (unread=1) or, under 全部, the latest read and unread alike (read ones greyed); the badge
// is the server's unread count either way. A notice opens its event in the side panels' detail
// (bus "event-selected" with locate: the detail tells the map where the event is) and is marked
// read (POST {"read": [id]}); 全部已读 posts {"read": "all"}. Read state is the user's own.
// Errors stay in the panel (and the bell's title): polling must never disturb the page.
import { api, can, emit } from "./core.js";
import { fill, fmtTime, h } from "./panels/util.js";

const NOTICES = "/api/v1/notifications";
const POLL_MS = 30_000;
const LIST_SIZE = 20;
const KIND_CLASS = { overdue: "cg-note-overdue", escalated: "cg-note-escalated" };

/** "刚刚", "5 分钟前", "3 小时前", "2 天前"; older than a week (or in the future): the date and time. */
export function relativeTime(iso, now = Date.now()) {
  const then = new Date(iso).getTime();
  if (!Number.isFinite(then)) return "";
  const s = (now - then) / 1000;
  if (s < -60 || s >= 7 * 86400) return fmtTime(iso);
  if (s < 60) return "刚刚";
  if (s < 3600) return `${Math.floor(s / 60)} 分钟前`;
  if (s < 86400) return `${Math.floor(s / 3600)} 小时前`;
  return `${Math.floor(s / 86400)} 天前`;
}

export function initNotifications(root = document.getElementById("cg-bell")) {
  if (!root || !can("events:read")) return null; // the API's scope
  const button = root.querySelector(".cg-bell-btn");
  const countEl = root.querySelector("[data-role=count]");
  const panel = root.querySelector(".cg-bell-panel");
  const listEl = root.querySelector("[data-role=list]");
  const statusEl = root.querySelector("[data-role=status]");
  const readAll = root.querySelector("[data-role=read-all]");
  const tabs = [...root.querySelectorAll(".cg-bell-tab")];
  let show = "unread"; // or "all"
  let notices = [];
  let unread = 0;
  let timer = null;
  let seq = 0;
  root.hidden = false;

  function showCount(n) {
    unread = Math.max(0, n);
    countEl.hidden = unread === 0;
    countEl.textContent = unread > 99 ? "99+" : String(unread);
    root.dataset.unread = String(unread);
    button.setAttribute("aria-label", unread ? `超时与督办通知，${unread} 条未读` : "超时与督办通知");
    readAll.disabled = unread === 0;
  }

  function showError(message) {
    root.classList.toggle("cg-bell-failed", Boolean(message));
    button.title = message ? `通知加载失败：${message}` : "";
    statusEl.textContent = message ? `通知暂时无法加载（${message}），稍后自动重试` : "";
  }

  function item(n) {
    return h(
      `li.cg-note${n.read_at ? ".is-read" : ""}`,
      { dataset: { id: String(n.id), event: String(n.event) } },
      h(
        "button.cg-note-btn",
        { type: "button", title: "打开事件详情并在地图上定位", onclick: () => openNotice(n) },
        h(`span.cg-note-kind.${KIND_CLASS[n.kind] || "cg-note-overdue"}`, {}, n.kind_name),
        h("span.cg-note-msg", {}, n.message),
        h("time.cg-note-time", { datetime: n.created_at, title: fmtTime(n.created_at) }, relativeTime(n.created_at)),
      ),
    );
  }

  function render() {
    const buttons = () => [...listEl.querySelectorAll("button")];
    const focused = buttons().indexOf(document.activeElement); // keep the keyboard's place
    const empty = show === "unread" ? "暂无未读通知" : "暂无通知";
    fill(listEl, notices.length ? notices.map(item) : h("li.cg-note-empty", {}, empty));
    if (focused >= 0) (buttons()[Math.min(focused, buttons().length - 1)] || readAll).focus();
  }

  async function refresh() {
    const mine = ++seq;
    root.dataset.loading = "true";
    try {
      const params = show === "unread" ? { unread: 1, limit: LIST_SIZE } : { limit: LIST_SIZE };
      const body = await api(NOTICES, { params });
      if (mine !== seq) return;
      notices = body.results;
      showCount(body.unread);
      showError("");
      render();
      root.dataset.loaded = String(mine);
    } catch (err) {
      if (mine !== seq) return;
      showError(err.message || "网络错误");
    } finally {
      if (mine === seq) delete root.dataset.loading;
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (document.visibilityState === "visible") timer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    await refresh();
    schedule();
  }

  async function mark(read) {
    try {
      await api(NOTICES, { method: "POST", body: { read } });
    } catch (err) {
      showError(err.message || "网络错误");
    }
    await refresh(); // the server's count, also when marking failed
  }

  function openNotice(n) {
    close(false);
    emit("event-selected", { id: n.event, locate: true });
    if (n.read_at) return;
    n.read_at = new Date().toISOString();
    showCount(unread - 1);
    render();
    mark([n.id]);
  }

  function open() {
    panel.hidden = false;
    button.setAttribute("aria-expanded", "true");
    (listEl.querySelector("button") || readAll).focus();
    refresh();
  }

  function close(focusButton = true) {
    if (panel.hidden) return;
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (focusButton) button.focus();
  }

  button.addEventListener("click", () => (panel.hidden ? open() : close()));
  for (const tab of tabs) {
    tab.addEventListener("click", () => {
      show = tab.dataset.show;
      for (const t of tabs) t.setAttribute("aria-pressed", String(t === tab));
      root.dataset.show = show;
      refresh();
    });
  }
  readAll.addEventListener("click", () => {
    for (const n of notices) n.read_at ||= new Date().toISOString();
    showCount(0);
    render();
    mark("all");
  });
  root.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !panel.hidden) {
      e.preventDefault();
      close();
    }
  });
  document.addEventListener("click", (e) => {
    if (!panel.hidden && !root.contains(e.target)) close(false);
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") poll();
    else {
      clearTimeout(timer);
      timer = null;
    }
  });

  showCount(0);
  poll();
  return { refresh, open, close };
}
