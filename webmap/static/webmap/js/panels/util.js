// Small helpers shared by the side panels: DOM building, times, colours, vocabularies.
import { TIMELINESS } from "../center-layers.js"; // the map's names and colours of the clock
import { api } from "../core.js";

const LIGHTS = { green: "绿灯", yellow: "黄灯", red: "红灯" };
export const COLOUR_NAMES = Object.fromEntries(
  Object.entries(TIMELINESS).map(([key, [name]]) => [key, `${LIGHTS[key] || key}（${name}）`]),
);

const TIME = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});

/** An ISO time as Beijing time, "2026/11/21 09:30"; "—" when empty. */
export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : TIME.format(d);
}

/** `h("tag.class", {attr: value, onclick: fn}, child, …)`; children are nodes or text. */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A coloured dot with its name (green / yellow / red of the running clock; none when finished). */
export function colourBadge(colour) {
  if (!colour) return h("span.cgp-colour.cgp-colour-none", { title: "流程已结束或已挂起" }, "—");
  const [name, hex] = TIMELINESS[colour] || [colour, "#cbd5e1"];
  return h(`span.cgp-colour.cgp-colour-${colour}`, { title: COLOUR_NAMES[colour] || colour, style: `--cgp-dot: ${hex}` }, name);
}

let vocabulary = null;

/** The classification and the names of states and sources, as the server gives them (cached). */
export function loadVocabulary() {
  if (!vocabulary) {
    vocabulary = api("/api/v1/event-categories").then((body) => {
      const names = {};
      for (const major of body.results) {
        names[major.code] = major.name;
        for (const minor of major.children || []) names[minor.code] = minor.name;
      }
      return {
        majors: body.results,
        states: body.states || [],
        sources: body.sources || [],
        stateName: Object.fromEntries((body.states || []).map((s) => [s.state, s.name])),
        sourceName: Object.fromEntries((body.sources || []).map((s) => [s.source, s.name])),
        categoryName: names,
      };
    });
    vocabulary.catch(() => {
      vocabulary = null; // try again next time
    });
  }
  return vocabulary;
}

/** Replace the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}
