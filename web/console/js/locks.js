// Locks: active location locks of the chosen warehouse; supervisors and
// admins release them.

import * as api from "./api.js";
import { h, fill, when, table, toast } from "./dom.js";

export async function render(ctx) {
  const body = h("div", { "aria-live": "polite" });
  fill(ctx.main, h("h1", {}, "Locks"), h("p", { class: "muted" }, "Warehouse " + (ctx.warehouse || "—")), body);
  const load = async () => {
    if (!ctx.warehouse) return;
    const out = await api.getUnlessDenied("locks", { warehouseId: ctx.warehouse }, () => fill(body, h("p", {}, "This role may not see locks.")));
    if (out === undefined || !ctx.current()) return;
    const rows = (out.locks || []).map((l) => h("tr", { "data-lock-id": l.lockId },
      h("td", {}, l.locationId), h("td", {}, l.scannerId), h("td", {}, when(l.acquiredAt)), h("td", {}, when(l.expiresAt)), h("td", {}, l.status),
      ctx.canAct ? h("td", {}, h("button", { type: "button", class: "danger", "data-action": "release", onclick: async () => {
        try { await api.call("DELETE", "locks/" + encodeURIComponent(l.lockId)); toast("Released"); await load(); } catch (err) { toast(err.message); }
      } }, "Release")) : null));
    const heads = ["Location", "Scanner", "Acquired", "Expires", "Status"];
    if (ctx.canAct) heads.push("Action");
    fill(body, table("Locks", heads, rows, "No active locks."));
  };
  ctx.live(load, 5000, ["lock"]);
}
