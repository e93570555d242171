// Building the page: every value goes in as text (createTextNode,
// textContent, setAttribute), never as markup, so a note of
// <img src=x onerror=alert(1)> shows as those characters.

/** h("tag", {attr: value, onclick: fn}, ...children): an element. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces el's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A time as the operator reads it, or "—". */
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

/** "3 min ago" style age of an ISO time, or "never". */
export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 90) return s + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 129600) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

/** A status badge: <span class="status red" data-status="red">red</span>. */
export function statusBadge(status) {
  return h("span", { class: "status " + status, "data-status": status }, status);
}

let toastTimer = null;
/** A short message in the corner (announced politely). */
export function toast(msg) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  t.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove("shown"), 4000);
}

/**
 * Runs act when form is submitted, instead of the browser's submission; an
 * error act throws is shown as a toast.
 */
export function onSubmit(form, act) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await act(); } catch (err) { toast(err.message); }
  });
}

/** A table with a header row and rows (each a <tr>), or a note when empty. */
export function table(label, headers, rows, empty = "Nothing to show.") {
  if (rows.length === 0) return h("p", { class: "muted" }, empty);
  return h("div", { class: "scroll" }, h("table", { "aria-label": label },
    h("thead", {}, h("tr", {}, headers.map((x) => (x instanceof Node ? x : h("th", { scope: "col" }, x))))),
    h("tbody", {}, rows)));
}

/** Pages rows (50 a page) with previous/next buttons; calls redraw(page). */
export function pager(total, page, size, redraw) {
  const pages = Math.max(1, Math.ceil(total / size));
  return h("div", { class: "pager" },
    h("button", { type: "button", disabled: page <= 0, onclick: () => redraw(page - 1) }, "Previous"),
    h("span", {}, `Page ${page + 1} of ${pages} (${total})`),
    h("button", { type: "button", disabled: page >= pages - 1, onclick: () => redraw(page + 1) }, "Next"));
}
