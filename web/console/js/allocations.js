// Allocations: look one up by allocation id or all of an order, with the
// decision history.

import * as api from "./api.js";
import { h, fill, when, table, toast } from "./dom.js";

export async function render(ctx) {
  const q = h("input", { id: "alloc-q", name: "q", required: true });
  const kind = h("select", { id: "alloc-kind" }, h("option", { value: "order" }, "Order id"), h("option", { value: "id" }, "Allocation id"));
  const body = h("div", {});
  const form = h("form", { class: "form", "aria-label": "Find allocations" },
    h("label", { for: "alloc-kind" }, "By", kind), h("label", { for: "alloc-q" }, "Id", q),
    h("button", { type: "submit", class: "primary", "data-action": "find-allocations" }, "Find"));
  fill(ctx.main, h("h1", {}, "Allocations"), form, body);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const list = kind.value === "id" ? [await api.get("allocations/" + encodeURIComponent(q.value))]
        : ((await api.get("allocations", { orderId: q.value })).allocations || []);
      fill(body, list.length === 0 ? h("p", {}, "None found.") : list.map((a) => h("section", { "data-allocation-id": a.allocationId },
        h("h2", {}, `${a.allocationId} — ${a.status}`),
        h("p", {}, `Order ${a.orderId} line ${a.orderLine}, ${a.itemId} in ${a.warehouseId}: requested ${a.requestedQuantity}, confirmed ${a.confirmedQuantity}, backorder ${a.backorderQuantity}, picked ${a.pickedQuantity}` + (a.reason ? `, reason ${a.reason}` : "")),
        table("Decision history", ["At", "Status"], (a.history || []).map((x) => h("tr", {}, h("td", {}, when(x.at)), h("td", {}, x.status + (x.reason ? " (" + x.reason + ")" : ""))))))));
    } catch (err) {
      fill(body, h("p", { class: "error" }, err.message));
      toast(err.message);
    }
  });
}
