// The scan form, made for a gloved hand and a hardware scan key. Every
// field takes keyboard-wedge input (the scan engine types the barcode, then
// Enter, into the focused field): Enter checks the field and moves to the
// next one, and on the last one queues the scan; the focus then returns to
// the first field for the next scan.
//
// A scan is written to the durable queue, with its UUID and the device time
// at the scan, before anything says it is queued.

import * as store from "./store.js";
import * as catalog from "./catalog.js";
import * as locks from "./locks.js";
import * as tasks from "./tasks.js";
import { validate } from "./validate.js";
import { uuid } from "./ids.js";
import { changed } from "./bus.js";

const ORDER = ["locationId", "itemId", "lotNumber", "quantity", "toLocationId"];

const QUANTITY_LABEL = {
  RECEIPT: "Quantity received",
  PICK: "Quantity picked",
  MOVE: "Quantity moved",
  ADJUSTMENT: "Adjustment (+ add, − remove)",
  CYCLE_COUNT: "Counted quantity",
};

const TYPE_WORD = { RECEIPT: "Receipt", PICK: "Pick", MOVE: "Move", ADJUSTMENT: "Adjustment", CYCLE_COUNT: "Count" };

/** A one-line summary of a transaction, for lists and messages. */
export function summary(tx) {
  const where = tx.type === "MOVE" ? `${tx.locationId} → ${tx.toLocationId}` : tx.locationId;
  const q = tx.type === "ADJUSTMENT" && tx.quantity > 0 ? "+" + tx.quantity : String(tx.quantity);
  const lot = tx.lotNumber ? ` lot ${tx.lotNumber}` : "";
  return `${TYPE_WORD[tx.type] || tx.type} ${q} × ${tx.itemId}${lot} @ ${where}`;
}

/**
 * Wires the form. deps: {device() → the enrolled device, onQueued(tx) →
 * after a scan is durably queued (starts an upload), onRefused(res)}.
 * Answers the form's controls for the rest of the app.
 */
export function mount(root, deps) {
  const form = root.querySelector("#scan");
  const input = (f) => form.querySelector("#f-" + f);
  const row = (f) => form.querySelector(`.field[data-field="${f}"]`);
  const errEl = (f) => form.querySelector("#e-" + f);
  const typeButtons = [...root.querySelectorAll(".types [data-type]")];
  const lockBox = form.querySelector("#lock-box");
  const lockText = form.querySelector("#lock-text");
  const overrideWrap = form.querySelector("#override-wrap");
  const override = form.querySelector("#f-override");
  const banner = form.querySelector("#banner");
  const bannerText = form.querySelector("#banner-text");
  const notes = form.querySelector("#form-notes");
  const msg = root.querySelector("#scan-msg");
  const sign = form.querySelector("#sign");
  const itemDesc = form.querySelector("#d-itemId");

  const state = {
    type: "RECEIPT",
    lock: null, // the answer of locks.acquire for lockFor
    lockFor: null,
    lockSeq: 0,
    countTaskId: null,
    replaces: null, // seq of the rejected scan being corrected
    keepTimestamp: null,
    expectedVersion: null,
  };

  function visible(f) { return !row(f).hidden; }
  function visibleFields() { return ORDER.filter(visible); }
  function value(f) { return input(f).value.trim(); }

  function draft() {
    const d = device();
    return {
      type: state.type,
      warehouseId: d ? d.warehouseId : "",
      locationId: value("locationId"),
      toLocationId: visible("toLocationId") ? value("toLocationId") : "",
      itemId: value("itemId"),
      lotNumber: visible("lotNumber") ? value("lotNumber") : "",
      quantity: value("quantity"),
    };
  }

  function device() { return deps.device(); }

  function showError(f, text) {
    const e = errEl(f);
    e.textContent = text || "";
    input(f).setAttribute("aria-invalid", text ? "true" : "false");
    row(f).classList.toggle("invalid", !!text);
  }

  function clearErrors() { for (const f of ORDER) showError(f, ""); }

  function setType(type) {
    if (state.type === "CYCLE_COUNT" && type !== "CYCLE_COUNT") dropLock();
    state.type = type;
    for (const b of typeButtons) b.setAttribute("aria-checked", String(b.dataset.type === type));
    form.dataset.type = type;
    form.querySelector("#l-locationId").textContent = type === "MOVE" ? "From location" : "Location";
    form.querySelector("#l-quantity").textContent = QUANTITY_LABEL[type];
    row("toLocationId").hidden = type !== "MOVE";
    sign.hidden = type !== "ADJUSTMENT";
    input("quantity").setAttribute("inputmode", type === "ADJUSTMENT" ? "text" : "numeric");
    form.querySelector("#submit").textContent = type === "CYCLE_COUNT" ? "Queue count" : "Queue scan";
    clearErrors();
    if (type === "CYCLE_COUNT" && value("locationId")) takeLock(value("locationId"));
  }

  // The lot field is there for lot-tracked items only; with no catalog on
  // the device it stays, optional, so a lot can still be recorded.
  function updateItem() {
    const id = value("itemId");
    const cat = catalog.get();
    const it = id ? catalog.item(id) : undefined;
    const showLot = cat ? !!(it && it.lotTracked) : id !== "";
    row("lotNumber").hidden = !showLot;
    if (!showLot) input("lotNumber").value = "";
    itemDesc.textContent = it ? it.description || "" : "";
  }

  function renderNotes(list) {
    notes.replaceChildren(...list.map((n) => {
      const li = document.createElement("li");
      li.textContent = n;
      return li;
    }));
  }

  // --- locks (cycle counts) -------------------------------------------

  function dropLock() {
    if (state.lock && state.lock.state === "held") {
      locks.release(state.lock.lockId).then(() => deps.onLockReleased());
    }
    state.lock = null;
    state.lockFor = null;
    state.lockSeq++;
    override.checked = false;
    renderLock();
  }

  async function takeLock(loc) {
    if (state.lockFor === loc && state.lock) return;
    dropLock();
    const d = device();
    if (!d) return;
    const seq = state.lockSeq;
    state.lockFor = loc;
    renderLock("Asking for the lock of " + loc + "…");
    const r = await locks.acquire(d, loc);
    if (seq !== state.lockSeq) {
      // The operator moved on meanwhile: give back what we got.
      if (r.state === "held") locks.release(r.lockId).then(() => deps.onLockReleased());
      return;
    }
    if (r.state === "refused") deps.onRefused(r.res);
    state.lock = r;
    renderLock();
  }

  function renderLock(pending) {
    const counting = state.type === "CYCLE_COUNT" && state.lockFor;
    lockBox.hidden = !counting;
    overrideWrap.hidden = true;
    lockBox.dataset.kind = "info";
    if (!counting) return;
    if (pending) {
      lockText.textContent = pending;
      return;
    }
    const r = state.lock;
    if (!r) return;
    switch (r.state) {
      case "held":
        lockBox.dataset.kind = "ok";
        lockText.textContent = `Location ${state.lockFor} is locked for your count until ${locks.clock(r.expiresAt)}.`;
        break;
      case "conflict":
        lockBox.dataset.kind = "warn";
        lockText.textContent = `${state.lockFor} is being counted by ${r.holder}` +
          (r.expiresAt ? ` until ${locks.clock(r.expiresAt)}` : "") +
          ". Your count will be rejected (LOCATION_LOCKED) unless you override.";
        overrideWrap.hidden = false;
        break;
      case "offline":
        lockText.textContent = "Offline: the location is not locked for this count.";
        break;
      default:
        lockText.textContent = "Could not lock the location: " + (r.message || "unknown error") + ". You can still count.";
    }
  }

  // --- field flow -----------------------------------------------------

  function focusField(f) {
    const el = input(f);
    el.focus();
    el.select();
  }

  function firstField() { return visibleFields()[0]; }

  function nextField(f) {
    const v = visibleFields();
    return v[v.indexOf(f) + 1];
  }

  /** Enter in field f: check it, then move on or queue the scan. */
  function commit(f) {
    input(f).value = value(f);
    if (f === "itemId") updateItem();
    if (f === "locationId" && state.type === "CYCLE_COUNT" && value(f)) takeLock(value(f));
    const { errors } = validate(draft(), catalog.get());
    if (errors[f]) {
      showError(f, errors[f]);
      focusField(f);
      return;
    }
    showError(f, "");
    const next = nextField(f);
    if (next) focusField(next);
    else submit();
  }

  async function submit() {
    const d = device();
    if (!d) return;
    updateItem();
    const dr = draft();
    const { errors, notes: ns } = validate(dr, catalog.get());
    renderNotes(ns);
    clearErrors();
    const bad = visibleFields().filter((f) => errors[f]);
    for (const f of bad) showError(f, errors[f]);
    if (bad.length) {
      msg.textContent = "";
      focusField(bad[0]);
      return;
    }
    const tx = {
      transactionId: uuid(),
      type: dr.type,
      timestamp: state.keepTimestamp || new Date().toISOString(),
      warehouseId: d.warehouseId,
      itemId: dr.itemId,
      locationId: dr.locationId,
      quantity: Number(dr.quantity.replace(/^\u2212/, "-")),
    };
    if (dr.lotNumber) tx.lotNumber = dr.lotNumber;
    if (dr.type === "MOVE") tx.toLocationId = dr.toLocationId;
    if (state.expectedVersion != null) tx.expectedVersion = state.expectedVersion;
    const userId = deps.userId();
    if (userId) tx.userId = userId;
    if (dr.type === "CYCLE_COUNT") {
      if (state.lock && state.lock.state === "conflict" && override.checked) tx.override = true;
      if (state.countTaskId) tx.countTaskId = state.countTaskId;
    }
    const replaces = state.replaces;
    const saved = { ...state };
    // Ready for the next scan at once: a wedge scanning fast must not type
    // into this scan's fields while it is being stored. (IndexedDB runs
    // the writes in the order they were started: the queue keeps the scan
    // order.)
    reset();
    msg.dataset.kind = "info";
    msg.textContent = "Saving…";
    try {
      await store.addScan(tx, replaces);
      // Durable now: only from here on is it shown as queued.
      msg.dataset.kind = "ok";
      msg.textContent = "Queued: " + summary(tx);
      if (tx.countTaskId) tasks.markCounted(tx.countTaskId);
      if (dr.type === "CYCLE_COUNT") dropLock();
      changed("queue");
      deps.onQueued(tx);
    } catch (err) {
      // Nothing was stored: put the scan back for another try.
      Object.assign(state, saved);
      for (const f of ORDER) if (dr[f] !== undefined) input(f).value = dr[f];
      updateItem();
      if (dr.lotNumber) { row("lotNumber").hidden = false; input("lotNumber").value = dr.lotNumber; }
      msg.dataset.kind = "error";
      msg.textContent = "Could not store the scan on this device: " + (err && err.message || err) + ". Nothing was queued.";
    }
  }

  function reset() {
    for (const f of ORDER) input(f).value = "";
    clearErrors();
    renderNotes([]);
    itemDesc.textContent = "";
    row("lotNumber").hidden = true;
    state.countTaskId = null;
    state.replaces = null;
    state.keepTimestamp = null;
    state.expectedVersion = null;
    banner.hidden = true;
    override.checked = false;
    focusField(firstField());
  }

  function showBanner(text) {
    bannerText.textContent = text;
    banner.hidden = false;
  }

  // --- events ---------------------------------------------------------

  for (const b of typeButtons) {
    b.addEventListener("click", () => {
      setType(b.dataset.type);
      focusField(firstField());
    });
  }

  // Enter is handled on keydown. Some wedges and remote-input tools send
  // the Enter's keypress on its own: that must not also submit the form
  // (implicit submission), or a scan would be checked twice.
  let enterAt = -1;
  form.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.isComposing) return;
    const f = e.target && e.target.name;
    if (!ORDER.includes(f)) return;
    e.preventDefault();
    enterAt = e.timeStamp;
    commit(f);
  });
  form.addEventListener("keypress", (e) => {
    if (e.key === "Enter" && ORDER.includes(e.target && e.target.name)) e.preventDefault();
  });

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (enterAt >= 0 && e.timeStamp - enterAt < 250 && !(e.submitter && e.submitter.matches(":active, :focus"))) return;
    submit();
  });

  input("itemId").addEventListener("change", updateItem);
  input("locationId").addEventListener("change", () => {
    if (state.type === "CYCLE_COUNT" && value("locationId")) takeLock(value("locationId"));
  });
  for (const f of ORDER) input(f).addEventListener("input", () => showError(f, ""));

  sign.addEventListener("click", () => {
    const el = input("quantity");
    const v = el.value.trim();
    el.value = v.startsWith("-") || v.startsWith("\u2212") ? v.slice(1) : "-" + v.replace(/^\+/, "");
    el.focus();
  });

  form.querySelector("#banner-cancel").addEventListener("click", () => {
    if (state.type === "CYCLE_COUNT") dropLock();
    reset();
    msg.textContent = "";
  });

  // A scan while no field has the focus (after a tap on a button or the
  // page) goes to the first empty field rather than being lost. Space and
  // Enter keep their meaning on a focused button.
  document.addEventListener("keydown", (e) => {
    if (root.hidden || e.defaultPrevented || e.ctrlKey || e.altKey || e.metaKey) return;
    const t = e.target;
    if (t && t.closest && t.closest("input, textarea, select, [contenteditable]")) return;
    if (e.key.length !== 1 || e.key === " ") return;
    const f = visibleFields().find((x) => !value(x)) || firstField();
    e.preventDefault();
    focusField(f);
    input(f).value += e.key;
  });

  setType("RECEIPT");

  return {
    focus() { focusField(firstField()); },

    /** Loads a rejected scan to correct: submitting queues a new scan (new UUID) in its place. */
    edit(scan) {
      const tx = scan.tx;
      setType(tx.type);
      reset();
      input("locationId").value = tx.locationId || "";
      input("itemId").value = tx.itemId || "";
      updateItem();
      if (tx.lotNumber) {
        row("lotNumber").hidden = false;
        input("lotNumber").value = tx.lotNumber;
      }
      input("quantity").value = String(tx.quantity);
      if (tx.type === "MOVE") input("toLocationId").value = tx.toLocationId || "";
      state.replaces = scan.seq;
      state.countTaskId = tx.countTaskId || null;
      showBanner(`Correcting a rejected scan (${scan.code}). Queueing replaces it.`);
      msg.textContent = "";
      if (tx.type === "CYCLE_COUNT" && tx.locationId) takeLock(tx.locationId);
      focusField(firstField());
    },

    /** Starts a cycle count for a count task. */
    countTask(task) {
      setType("CYCLE_COUNT");
      reset();
      state.countTaskId = task.countTaskId;
      input("locationId").value = task.locationId;
      if (task.itemId) {
        input("itemId").value = task.itemId;
        updateItem();
      }
      showBanner(`Count task ${task.countTaskId}: ${task.locationId}${task.itemId ? " · " + task.itemId : ""}${task.reason ? " (" + task.reason + ")" : ""}`);
      takeLock(task.locationId);
      const next = visibleFields().find((f) => !value(f)) || "quantity";
      focusField(next);
    },

    /** Re-checks what depends on the catalog (it was refreshed). */
    catalogChanged() { if (value("itemId")) updateItem(); },
  };
}
