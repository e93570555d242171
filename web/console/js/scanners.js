// Scanners: the fleet table (GET /v1/scanners), red first, sortable; a
// scanner's detail. Refreshed every 5 s.

import * as api from "./api.js";
import { h, fill, ago, when, table, statusBadge, pager } from "./dom.js";

const RANK = { red: 0, offline: 1, yellow: 2, green: 3 };
const COLUMNS = [
  ["status", "Status"], ["scannerId", "Scanner"], ["warehouses", "Warehouses"], ["lastSeenAt", "Last seen"],
  ["lastUploadAt", "Last upload"], ["queued", "Queued"], ["oldestQueuedAt", "Oldest queued"], ["rejected", "Rejected"],
];

function compare(key) {
  return (a, b) => {
    if (key === "status") return RANK[a.status] - RANK[b.status] || a.scannerId.localeCompare(b.scannerId);
    const x = a[key], y = b[key];
    if (typeof x === "number") return y - x;
    return String(x || "").localeCompare(String(y || ""));
  };
}

export async function render(ctx) {
  let sortKey = "status";
  let page = 0;
  let list = [];
  const body = h("div", {});
  const filter = h("select", { id: "scanner-scope" }, h("option", { value: "" }, "all warehouses in scope"),
    ctx.warehouses.map((w) => h("option", { value: w, selected: w === ctx.warehouse }, w)));
  fill(ctx.main, h("h1", {}, "Scanners"), h("div", { class: "bar" }, h("label", { for: "scanner-scope" }, "Show", filter)), body);
  const draw = () => {
    const sorted = [...list].sort(compare(sortKey));
    const rows = sorted.slice(page * 50, page * 50 + 50).map((s) => h("tr", { "data-scanner-id": s.scannerId },
      h("td", {}, statusBadge(s.status)),
      h("td", {}, h("a", { href: "#/scanners/" + encodeURIComponent(s.scannerId) }, s.scannerId)),
      h("td", {}, (s.warehouses || []).join(", ")),
      h("td", { title: when(s.lastSeenAt) }, ago(s.lastSeenAt)),
      h("td", { title: when(s.lastUploadAt) }, ago(s.lastUploadAt)),
      h("td", { class: "num" }, s.queued),
      h("td", { title: when(s.oldestQueuedAt) }, s.oldestQueuedAt ? ago(s.oldestQueuedAt) : "—"),
      h("td", { class: "num" }, s.rejected)));
    const heads = COLUMNS.map(([k, label]) => h("th", { scope: "col", "aria-sort": k === sortKey ? "ascending" : "none" },
      h("button", { type: "button", onclick: () => { sortKey = k; page = 0; draw(); } }, label)));
    fill(body, table("Scanners", heads, rows, "No scanner tokens in scope."),
      list.length > 50 ? pager(list.length, page, 50, (p) => { page = p; draw(); }) : null);
  };
  filter.addEventListener("change", () => load().catch(() => {}));
  const load = async () => {
    const out = await api.get("scanners", { warehouseId: filter.value });
    if (!ctx.current()) return;
    list = out.scanners || [];
    draw();
  };
  ctx.live(load, 5000, ["scanner"]);
}

export async function renderOne(ctx) {
  const box = h("div", {});
  fill(ctx.main, h("p", {}, h("a", { href: "#/scanners" }, "← Scanners")), h("h1", {}, "Scanner ", ctx.param), box);
  ctx.live(async () => {
    const s = await api.get("scanners/" + encodeURIComponent(ctx.param));
    if (!ctx.current()) return;
    const f = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
    fill(box, h("dl", { class: "fields", "data-scanner-id": s.scannerId },
      f("Status", statusBadge(s.status)), f("Warehouses", (s.warehouses || []).join(", ")),
      f("Last seen", `${ago(s.lastSeenAt)} (${when(s.lastSeenAt)})`), f("Last upload", `${ago(s.lastUploadAt)} (${when(s.lastUploadAt)})`),
      f("Scans queued on the device", String(s.queued)), f("Oldest queued scan", when(s.oldestQueuedAt)),
      f("Rejections waiting on the device", String(s.rejected)), f("App version", s.appVersion || "—")),
    h("p", { class: "muted" }, "Counts as the device last reported them (with each upload and every 30 s while online). The rejections themselves are listed on the device."));
  }, 5000, ["scanner"]);
}
