// Count tasks of the chosen warehouse (GET /v1/count-tasks); supervisors
// and admins create them.

import * as api from "./api.js";
import { h, fill, when, table, toast, onSubmit } from "./dom.js";

export async function render(ctx) {
  const body = h("div", { "aria-live": "polite" });
  let form = null;
  if (ctx.canAct) {
    const loc = h("input", { id: "ct-location", name: "locationId", required: true });
    const item = h("input", { id: "ct-item", name: "itemId" });
    const reason = h("input", { id: "ct-reason", name: "reason", required: true, value: "console" });
    form = h("form", { class: "form", "aria-label": "New count task" },
      h("label", { for: "ct-location" }, "Location", loc), h("label", { for: "ct-item" }, "Item (optional)", item),
      h("label", { for: "ct-reason" }, "Reason", reason),
      h("button", { type: "submit", class: "primary", "data-action": "create-count-task" }, "Create count task"));
    onSubmit(form, async () => {
      await api.call("POST", "count-tasks", { body: { warehouseId: ctx.warehouse, locationId: loc.value, itemId: item.value || undefined, reason: reason.value } });
      toast("Count task created");
      await load();
    });
  }
  fill(ctx.main, h("h1", {}, "Count tasks"), h("p", { class: "muted" }, "Warehouse " + (ctx.warehouse || "—")), form, body);
  const load = async () => {
    if (!ctx.warehouse) return;
    const out = await api.getUnlessDenied("count-tasks", { warehouseId: ctx.warehouse }, () => fill(body, h("p", {}, "This role may not see count tasks.")));
    if (out === undefined || !ctx.current()) return;
    const rows = (out.countTasks || []).slice().reverse().map((t) => h("tr", { "data-count-task-id": t.countTaskId },
      h("td", {}, t.countTaskId), h("td", {}, t.status), h("td", {}, t.locationId), h("td", {}, t.itemId || "whole location"),
      h("td", {}, t.reason), h("td", {}, t.createdBy), h("td", {}, when(t.createdAt)), h("td", {}, when(t.completedAt))));
    fill(body, table("Count tasks", ["Id", "Status", "Location", "Item", "Reason", "By", "Created", "Completed"], rows, "No count tasks."));
  };
  ctx.live(load, 5000, ["count-task"]);
}
