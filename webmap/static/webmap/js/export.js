// 导出: the current view of a layer as a self-contained folium map (HTML) or a PNG/PDF print.
//   exportMap({layer, format, params}, statusElement) → the finished job (or throws ApiError)
// POST /api/v1/exports/maps queues a job; it is polled until done, then a download link
// (links.file) is shown in statusElement. Layers: event_heatmap (params as GET
// /api/v1/events/heatmap: bbox/region, from/to, category, state…, zoom), draw_sites ({draw}),
// unit_density ({type, level, measure}).
import { api, escapeHtml, toast } from "./core.js";

const POLL_MS = 1000;
const GIVE_UP_MS = 180_000;
const FORMAT_NAMES = { html: "HTML 地图", png: "PNG 图片", pdf: "PDF 文档" };

export async function exportMap({ layer, format = "html", params = {} }, status) {
  const show = (html) => {
    if (status) status.innerHTML = html;
  };
  show(`正在导出${FORMAT_NAMES[format] || format}…`);
  let job = await api("/api/v1/exports/maps", { method: "POST", body: { layer, format, params } });
  const started = Date.now();
  while (!["succeeded", "failed", "cancelled"].includes(job.status)) {
    if (Date.now() - started > GIVE_UP_MS) {
      show("导出超时，请稍后在导出列表中查看");
      throw new Error("导出超时");
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    job = await api(job.links.self);
  }
  if (job.status !== "succeeded") {
    show(`<span class="badge badge-red">导出失败</span> ${escapeHtml(job.error || job.status)}`);
    toast(`导出失败：${job.error || job.status}`, "error");
    return job;
  }
  show(
    `<span class="badge badge-green">已完成</span> <a id="export-link" href="${escapeHtml(job.links.file)}" ` +
      `data-format="${escapeHtml(format)}" download>下载${FORMAT_NAMES[format] || ""}</a>`,
  );
  toast("导出完成");
  return job;
}

/** Wire an "导出" form: a format <select> and a button; params() gives the layer and its params. */
export function exportButton({ button, format, status, spec }) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const { layer, params } = spec();
      await exportMap({ layer, format: format.value, params }, status);
    } catch (err) {
      toast(err.message, "error");
      if (status) status.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
}
