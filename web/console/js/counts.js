// Counts: held cycle counts of the chosen warehouse (GET /v1/counts?status=held)
// with counted, expected and variance; approve or reject with a note.

import * as api from "./api.js";
import { h, fill, when, table, toast } from "./dom.js";

export async function render(ctx) {
  const body = h("div", { "aria-live": "polite" });
  fill(ctx.main, h("h1", {}, "Held counts"), h("p", { class: "muted" }, "Warehouse " + (ctx.warehouse || "—")), body);
  const decide = async (txid, approve, note) => {
    try {
      await api.call("POST", `counts/${encodeURIComponent(txid)}/${approve ? "approve" : "reject"}`, { body: { note } });
      toast(approve ? "Approved" : "Rejected");
      await load();
    } catch (err) { toast(err.message); }
  };
  const load = async () => {
    if (!ctx.warehouse) return;
    const out = await api.getUnlessDenied("counts", { warehouseId: ctx.warehouse, status: "held" }, () => fill(body, h("p", {}, "This role may not see held counts.")));
    if (out === undefined || !ctx.current()) return;
    const rows = (out.counts || []).map((c) => {
      const variance = c.counted - c.expected;
      const pct = (100 * Math.abs(variance)) / Math.max(c.expected, 1);
      const note = h("input", { name: "note", "aria-label": "Note for " + c.transactionId, size: 18 });
      return h("tr", { "data-count-id": c.transactionId },
        h("td", {}, c.itemId), h("td", {}, c.locationId), h("td", {}, c.lotNumber || "—"),
        h("td", { class: "num" }, c.counted), h("td", { class: "num" }, c.expected),
        h("td", { class: "num" }, `${variance > 0 ? "+" : ""}${variance} (${pct.toFixed(1)} %)`),
        h("td", {}, c.scannerId || "—"), h("td", {}, when(c.countedAt)),
        ctx.canAct ? h("td", {}, note, " ",
          h("button", { type: "button", class: "primary", "data-action": "approve", onclick: () => decide(c.transactionId, true, note.value) }, "Approve"), " ",
          h("button", { type: "button", class: "danger", "data-action": "reject", onclick: () => decide(c.transactionId, false, note.value) }, "Reject")) : null);
    });
    const heads = ["Item", "Location", "Lot", "Counted", "Expected", "Variance", "Scanner", "Counted at"];
    if (ctx.canAct) heads.push("Decision");
    fill(body, table("Held counts", heads, rows, "No held counts."));
  };
  ctx.live(load, 5000, ["held"]);
}
