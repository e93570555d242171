// Discrepancies: the worklist of the chosen warehouse (GET
// /v1/discrepancies), filtered by status, 50 a page (the server pages),
// oldest first, refreshed every 3 s; a
// discrepancy's detail with its history and, for supervisors and admins,
// investigate and resolve (PATCH, with an Idempotency-Key).

import * as api from "./api.js";
import { h, fill, when, table, pager, toast } from "./dom.js";

const RESOLUTIONS = ["RECOUNT_REQUESTED", "WAREHOUSE_CONFIRMED", "WRITTEN_OFF"];

export async function render(ctx) {
  let page = 0;
  let list = [];
  let total = 0;
  const status = h("select", { id: "d-status" }, ["", "OPEN", "INVESTIGATING", "RESOLVED"].map((s) =>
    h("option", { value: s, selected: s === "OPEN" }, s || "any status")));
  const body = h("div", { "aria-live": "polite" });
  fill(ctx.main, h("h1", {}, "Discrepancies"),
    h("div", { class: "bar" }, h("label", { for: "d-status" }, "Status", status), h("span", { class: "muted" }, "Warehouse " + (ctx.warehouse || "—"))),
    body);
  const draw = () => {
    const rows = list.map((d) => h("tr", { "data-discrepancy-id": d.discrepancyId },
      h("td", {}, h("a", { href: "#/discrepancies/" + encodeURIComponent(d.discrepancyId) }, d.discrepancyId)),
      h("td", {}, d.kind), h("td", {}, d.status), h("td", {}, d.itemId), h("td", {}, d.locationId),
      h("td", { class: "num" }, d.warehouseOnHand), h("td", { class: "num" }, d.cloudOnHand ?? "—"),
      h("td", {}, d.assignee || "—"), h("td", {}, when(d.openedAt))));
    fill(body, table("Discrepancies", ["Id", "Kind", "Status", "Item", "Location", "Warehouse on hand", "Cloud on hand", "Assignee", "Opened"], rows, "No discrepancies."),
      total > 50 ? pager(total, page, 50, (p) => { page = p; load().catch((e) => toast(e.message)); }) : null);
  };
  const load = async () => {
    if (!ctx.warehouse) { fill(body, h("p", {}, "No warehouse in scope.")); return; }
    // One page at a time, oldest first: the worklist's order.
    const out = await api.get("discrepancies", { warehouseId: ctx.warehouse, status: status.value, limit: 50, offset: page * 50 });
    if (!ctx.current()) return;
    list = out.discrepancies || [];
    total = out.total ?? list.length;
    if (list.length === 0 && page > 0) { page = Math.max(0, Math.ceil(total / 50) - 1); return load(); }
    draw();
  };
  status.addEventListener("change", () => { page = 0; load().catch((e) => toast(e.message)); });
  ctx.live(load, 3000, ["discrepancy"]);
}

export async function renderOne(ctx) {
  const box = h("div", {});
  const actions = h("div", {});
  fill(ctx.main, h("p", {}, h("a", { href: "#/discrepancies" }, "← Discrepancies")), h("h1", {}, "Discrepancy ", ctx.param), box, actions);
  const load = async () => {
    const d = await api.get("discrepancies/" + encodeURIComponent(ctx.param));
    if (!ctx.current()) return;
    const f = (k, v) => [h("dt", {}, k), h("dd", {}, v ?? "—")];
    fill(box, h("dl", { class: "fields", "data-discrepancy-id": d.discrepancyId, "data-discrepancy-status": d.status },
      f("Status", d.status), f("Kind", d.kind), f("Warehouse", d.warehouseId), f("Item", d.itemId), f("Location", d.locationId),
      f("Lot", d.lotNumber || "—"), f("Warehouse on hand / version", `${d.warehouseOnHand} / ${d.warehouseVersion}`),
      f("Cloud on hand / version", `${d.cloudOnHand ?? "—"} / ${d.cloudVersion ?? "—"}`), f("Assignee", d.assignee),
      f("Resolution", d.resolution), f("Opened", when(d.openedAt))),
    h("h2", {}, "History"),
    table("History", ["At", "By", "Status", "Note"], (d.history || []).map((x) =>
      h("tr", {}, h("td", {}, when(x.at)), h("td", {}, x.by), h("td", {}, x.status + (x.resolution ? " " + x.resolution : "")), h("td", { "data-note": "" }, x.note || "")))));
    return d;
  };
  const d = await load();
  if (!ctx.canAct || !d || d.status === "RESOLVED") return;
  const change = async (body, what) => {
    try {
      await api.call("PATCH", "discrepancies/" + encodeURIComponent(ctx.param), { body });
      toast(what);
      const now = await load();
      if (now && now.status === "RESOLVED") fill(actions);
    } catch (err) {
      toast(err.message);
    }
  };
  const assignee = h("input", { id: "assignee", name: "assignee", value: d.assignee || ctx.me.name });
  const inv = h("form", { class: "form", "aria-label": "Investigate" },
    h("label", { for: "assignee" }, "Assignee", assignee),
    h("button", { type: "submit", "data-action": "investigate" }, "Investigate"));
  inv.addEventListener("submit", (e) => { e.preventDefault(); change({ status: "INVESTIGATING", assignee: assignee.value }, "Investigating"); });
  const resolution = h("select", { id: "resolution", name: "resolution" }, RESOLUTIONS.map((r) => h("option", { value: r }, r)));
  const note = h("textarea", { id: "note", name: "note", rows: 2, cols: 40 });
  const res = h("form", { class: "form", "aria-label": "Resolve" },
    h("label", { for: "resolution" }, "Resolution", resolution), h("label", { for: "note" }, "Note", note),
    h("button", { type: "submit", class: "primary", "data-action": "resolve" }, "Resolve"));
  res.addEventListener("submit", (e) => { e.preventDefault(); change({ status: "RESOLVED", resolution: resolution.value, note: note.value }, "Resolved"); });
  fill(actions, h("h2", {}, "Work it"), d.status === "OPEN" ? inv : null, res);
}
