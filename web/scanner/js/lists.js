// The lists under the form: rejected scans waiting for the operator, open
// count tasks, the queue, and the recently synced scans. Text only through
// textContent: nothing from the server or a barcode is parsed as HTML.

import { summary } from "./scanform.js";

const QUEUE_SHOWN = 100;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function button(text, cls, onClick) {
  const b = el("button", cls, text);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

// Redraws a list only when what it shows changed: a list rebuilt under the
// operator's finger would lose the button being tapped and the focus.
function unchanged(list, sig) {
  if (list.dataset.sig === sig) return true;
  list.dataset.sig = sig;
  return false;
}

function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

/**
 * Draws the rejected scans. actions: {edit(scan), dismiss(scan),
 * retryVersion(scan)}; a VERSION_CONFLICT offers the retry.
 */
export function renderRejected(section, list, scans, actions) {
  section.hidden = scans.length === 0;
  if (unchanged(list, JSON.stringify(scans.map((s) => [s.seq, s.code, s.message])))) return;
  list.replaceChildren(...scans.map((s) => {
    const li = el("li", "card rejected");
    li.dataset.seq = s.seq;
    li.dataset.code = s.code || "";
    const head = el("p", "card-h");
    head.append(el("strong", "code", s.code || "REJECTED"), " ", el("span", null, summary(s.tx)));
    li.append(head);
    if (s.message) li.append(el("p", "card-msg", s.message));
    li.append(el("p", "card-meta", `scanned ${when(s.tx.timestamp)}`));
    const acts = el("div", "card-actions");
    if (s.code === "VERSION_CONFLICT") {
      acts.append(button("Retry with the fresh version", "retry primary", () => actions.retryVersion(s, li)));
    }
    acts.append(button("Edit", "edit", () => actions.edit(s)));
    acts.append(button("Dismiss", "dismiss", () => actions.dismiss(s)));
    li.append(acts);
    li.append(el("p", "card-note"));
    return li;
  }));
}

/** Draws the open count tasks (tasks null: the server has none; hide). */
export function renderTasks(section, list, tasks, onPick) {
  section.hidden = !tasks || tasks.length === 0;
  if (!tasks) return;
  if (unchanged(list, JSON.stringify(tasks.map((t) => [t.countTaskId, t.locationId, t.itemId, t.reason])))) return;
  list.replaceChildren(...tasks.map((t) => {
    const li = el("li", "card task");
    li.dataset.task = t.countTaskId;
    const b = button("", "task-pick", () => onPick(t));
    b.append(el("strong", null, t.locationId), el("span", null, t.itemId ? " · " + t.itemId : " · all items"));
    if (t.reason) b.append(el("span", "task-reason", t.reason));
    b.setAttribute("aria-label", `Count ${t.locationId}${t.itemId ? " item " + t.itemId : ""}${t.reason ? ", " + t.reason : ""}`);
    li.append(b);
    return li;
  }));
}

/** Draws the queue, oldest first. */
export function renderQueue(countEl, list, scans) {
  countEl.textContent = String(scans.length);
  if (unchanged(list, `${scans.length}:${scans.length ? scans[0].seq + "-" + scans[scans.length - 1].seq : ""}`)) return;
  const rows = scans.slice(0, QUEUE_SHOWN).map((s) => {
    const li = el("li", "row");
    li.append(el("span", "row-t", when(s.tx.timestamp)), " ", el("span", null, summary(s.tx)));
    return li;
  });
  if (scans.length > QUEUE_SHOWN) rows.push(el("li", "row more", `… and ${scans.length - QUEUE_SHOWN} more`));
  list.replaceChildren(...rows);
}

function outcomeText(h) {
  const o = h.outcome;
  if (!o) return h.status === "duplicate" ? "already received" : "accepted";
  switch (o.status) {
    case "applied":
      return o.resultingOnHand != null ? `applied · on hand ${o.resultingOnHand}` : "applied";
    case "held":
      return `held for supervisor review${o.code ? " (" + o.code + ")" : ""}`;
    case "pending":
      return "accepted · being applied";
    default:
      return o.status;
  }
}

/** Draws the recently synced scans, newest first. */
export function renderRecent(list, history) {
  if (unchanged(list, history.map((h) => h.seq + (h.outcome ? h.outcome.status : "")).join())) return;
  list.replaceChildren(...history.map((h) => {
    const li = el("li", "row");
    if (h.outcome && h.outcome.status === "held") li.classList.add("held");
    li.append(el("span", "row-t", when(h.tx.timestamp)), " ", el("span", null, summary(h.tx)), el("span", "row-o", outcomeText(h)));
    return li;
  }));
}
