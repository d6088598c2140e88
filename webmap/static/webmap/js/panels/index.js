// The command center's side panels (webmap/_panels.html): 事件列表, 事件详情, 统计分析.
// W1's center.js calls initPanels({map, bus}) once the map exists. The panels read only the
// /api/v1 endpoints, in the user's jurisdiction; the actions shown are those the server lists
// for this user (allowed_actions), and the server decides again on every action.
import { can, toast } from "../core.js";
import { initDetail } from "./detail.js";
import { initList } from "./list.js";
import { PanelState } from "./state.js";
import { initStats } from "./stats.js";

export async function initPanels({ map, bus }) {
  const root = document.getElementById("cg-panels");
  if (!root) return null;
  if (!can("events:read")) {
    root.hidden = true; // no event panels for a user who may not read events
    return null;
  }
  const tabs = [...root.querySelectorAll("[role=tab]")];
  const panes = Object.fromEntries([...root.querySelectorAll("[role=tabpanel]")].map((p) => [p.dataset.pane, p]));
  let stats = null;

  function showTab(name) {
    for (const tab of tabs) {
      const on = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    for (const [key, pane] of Object.entries(panes)) pane.hidden = key !== name;
    root.dataset.tab = name;
    if (name === "stats" && stats) stats.shown();
  }
  for (const tab of tabs) tab.addEventListener("click", () => showTab(tab.dataset.tab));

  const state = new PanelState({ map, bus });
  const detail = initDetail({ root: panes.detail, map, bus, showTab });
  stats = initStats({ root: panes.stats, state });
  showTab("list");
  let list = null;
  try {
    list = await initList({ root: panes.list, state, bus });
  } catch (err) {
    toast(err.message || "事件面板加载失败", "error");
  }
  bus.addEventListener("event-changed", () => stats.refresh());
  root.dataset.ready = "true";
  return { state, list, detail, stats, showTab };
}
