// Tokens (admin): create (the secret and, for a scanner, its enrolment
// link and QR code shown once), list, revoke.

import * as api from "./api.js";
import { h, fill, when, table, toast, onSubmit } from "./dom.js";
import qrcode from "../vendor/qrcode-generator/qrcode.js";

/** Draws text as a QR code on a canvas (no markup, no data: URL). */
export function qrCanvas(text, scale = 4) {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  const c = h("canvas", { class: "qr", width: n * scale, height: n * scale, role: "img", "aria-label": "QR code of the enrolment link" });
  const g = c.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, n * scale, n * scale);
  g.fillStyle = "#000";
  for (let r = 0; r < n; r++) for (let col = 0; col < n; col++) if (qr.isDark(r, col)) g.fillRect(col * scale, r * scale, scale, scale);
  return c;
}

export async function render(ctx) {
  if (!ctx.isAdmin) { fill(ctx.main, h("h1", {}, "Tokens"), h("p", {}, "Only an admin manages tokens.")); return; }
  const name = h("input", { id: "tok-name", name: "name", required: true });
  const role = h("select", { id: "tok-role", name: "role" }, ["scanner", "supervisor", "reader", "cloud", "admin"].map((r) => h("option", { value: r }, r)));
  const whs = h("input", { id: "tok-warehouses", name: "warehouses", value: ctx.warehouse || "*", required: true });
  const shown = h("div", { "aria-live": "polite" });
  const body = h("div", {});
  const form = h("form", { class: "form", "aria-label": "New token" },
    h("label", { for: "tok-name" }, "Name (a scanner's id)", name), h("label", { for: "tok-role" }, "Role", role),
    h("label", { for: "tok-warehouses" }, "Warehouses (comma separated, * for all)", whs),
    h("button", { type: "submit", class: "primary", "data-action": "create-token" }, "Create token"));
  onSubmit(form, async () => {
    const t = await api.call("POST", "tokens", { body: { name: name.value.trim(), role: role.value, warehouses: whs.value.split(",").map((w) => w.trim()).filter(Boolean) } });
    const parts = [h("p", {}, h("strong", {}, `Token for ${t.name} (${t.role}) — shown once, copy it now:`)), h("p", {}, h("code", { "data-secret": "" }, t.token))];
    if (t.role === "scanner") {
      const link = new URL("../scanner/#token=" + encodeURIComponent(t.token), document.baseURI).href;
      parts.push(h("p", {}, "Enrolment link (open on the scanner, or scan the code with its camera):"),
        h("p", {}, h("code", { "data-enrolment-link": "" }, link)), qrCanvas(link));
    }
    parts.push(h("p", {}, h("button", { type: "button", onclick: () => fill(shown) }, "Done, hide it")));
    fill(shown, h("div", { class: "secret", "data-created-token-id": t.tokenId }, parts));
    await load();
  });
  fill(ctx.main, h("h1", {}, "Tokens"), form, shown, body);
  const load = async () => {
    const out = await api.get("tokens");
    if (!ctx.current()) return;
    const rows = (out.tokens || []).slice().reverse().map((t) => h("tr", { "data-token-id": t.tokenId },
      h("td", {}, t.name), h("td", {}, t.role), h("td", {}, (t.warehouses || []).join(", ")), h("td", {}, t.status),
      h("td", {}, when(t.createdAt)), h("td", {}, t.createdBy),
      h("td", {}, t.status === "ACTIVE" ? h("button", { type: "button", class: "danger", "data-action": "revoke", onclick: async () => {
        try { await api.call("DELETE", "tokens/" + encodeURIComponent(t.tokenId)); toast("Revoked " + t.name); await load(); } catch (err) { toast(err.message); }
      } }, "Revoke") : "—")));
    fill(body, table("Tokens", ["Name", "Role", "Warehouses", "Status", "Created", "By", "Action"], rows, "No tokens."));
  };
  ctx.live(load, 30000, ["token"]);
}
