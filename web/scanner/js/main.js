// The scanner app: boots the screens, keeps the indicator and the lists
// current, and runs the uploader.

import * as api from "./api.js";
import * as store from "./store.js";
import * as sync from "./sync.js";
import * as status from "./status.js";
import * as catalog from "./catalog.js";
import * as enrol from "./enrol.js";
import * as locks from "./locks.js";
import * as tasks from "./tasks.js";
import * as lists from "./lists.js";
import * as scanform from "./scanform.js";
import { onChange, changed } from "./bus.js";
import { uuid } from "./ids.js";

const $ = (sel) => document.querySelector(sel);

let device = null; // the enrolled device, or null
let userId = "";
let form = null;
let enrolView = null;

// --- the service worker ------------------------------------------------

function registerWorker() {
  const out = $("#dev-offline");
  if (!("serviceWorker" in navigator)) {
    out.textContent = window.isSecureContext ? "not supported by this browser" : "needs HTTPS (or localhost)";
    return;
  }
  const hadController = !!navigator.serviceWorker.controller;
  navigator.serviceWorker.register("sw.js", { scope: "./" }).catch((err) => {
    out.textContent = "unavailable: " + err.message;
  });
  navigator.serviceWorker.ready.then(() => {
    out.textContent = "ready — the app opens with no network";
    document.documentElement.dataset.offlineReady = "yes";
  });
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    // A new version took over; the page still runs the old one.
    if (hadController) $("#update-note").hidden = false;
  });
  $("#update-reload").addEventListener("click", () => location.reload());
}

// --- drawing -------------------------------------------------------------

async function redraw() {
  const [c, s, rejected, queued, recent] = await Promise.all([
    store.counts(),
    store.get(store.KEYS.sync),
    store.scansIn("rejected"),
    store.scansIn("queued"),
    store.recent(),
  ]);
  const st = s || {};
  const shown = status.render($("#status"), {
    enrolled: !!(device && device.scannerId),
    tokenRefused: !!st.tokenRefused,
    queued: c.queued,
    rejected: c.rejected,
    online: navigator.onLine,
    lastSuccessAt: st.lastSuccessAt || null,
    lastError: st.lastError || null,
    now: Date.now(),
  });
  const action = $("#st-action");
  if (device && st.tokenRefused) {
    action.textContent = "Re-enrol";
    action.dataset.action = "reenrol";
    action.hidden = false;
  } else if (c.rejected > 0) {
    action.textContent = "Review";
    action.dataset.action = "review";
    action.hidden = false;
  } else {
    action.hidden = true;
  }
  document.title = `${shown.title} · invsync scanner`;
  $("#dev-error").textContent = st.lastError || "none";
  lists.renderRejected($("#attention"), $("#rejected-list"), rejected, rejectedActions);
  lists.renderQueue($("#queue-n"), $("#queue-list"), queued);
  lists.renderRecent($("#recent-list"), recent);
  lists.renderTasks($("#tasks"), $("#task-list"), device ? tasks.list() : null, (t) => form.countTask(t));
  drawDevice();
}

let redrawing = null;
let redrawAgain = false;
function scheduleRedraw() {
  if (redrawing) {
    redrawAgain = true;
    return;
  }
  redrawing = redraw().catch((err) => console.error("redraw failed", err)).finally(() => {
    redrawing = null;
    if (redrawAgain) {
      redrawAgain = false;
      scheduleRedraw();
    }
  });
}

function drawDevice() {
  if (!device) return;
  $("#who-scanner").textContent = device.scannerId;
  $("#who-wh").textContent = device.warehouseId;
  $("#who-user").textContent = userId ? "operator " + userId : "no operator";
  $("#dev-scanner").textContent = device.scannerId;
  $("#dev-wh").textContent = device.warehouseId;
  $("#dev-expires").textContent = device.expiresAt ? new Date(device.expiresAt).toLocaleString() : "never";
  const cat = catalog.get();
  $("#dev-catalog").textContent = cat
    ? `${cat.locations.size} locations, ${cat.items.size} items` + (cat.fetchedAt ? `, checked ${new Date(cat.fetchedAt).toLocaleTimeString([], { hour12: false })}` : "")
    : "not loaded yet";
  const whs = (device.warehouses || []);
  $("#change-wh").hidden = !(whs.length > 1 || whs.includes("*"));
}

// --- rejected scans ------------------------------------------------------

const rejectedActions = {
  edit(scan) {
    form.edit(scan);
    $("#scan").scrollIntoView({ block: "start" });
  },
  async dismiss(scan) {
    await store.deleteScan(scan.seq);
    changed("queue");
    form.focus(); // the card (and its focused button) is gone: back to scanning
  },
  // A VERSION_CONFLICT: read the record's current version and queue the
  // same observation again (same scan time, new transactionId) expecting it.
  async retryVersion(scan, card) {
    const note = card.querySelector(".card-note");
    const tx = scan.tx;
    note.textContent = "Reading the current version…";
    const res = await api.call("GET", "positions", {
      warehouseId: tx.warehouseId, itemId: tx.itemId, locationId: tx.locationId, lotNumber: tx.lotNumber || "",
    }, { token: device.token, refusedOn403: false });
    if (res.kind === "refused") {
      await sync.noteRefused(res);
      note.textContent = status.TOKEN_REFUSED;
      return;
    }
    if (res.kind !== "ok" || !res.body) {
      note.textContent = res.status === 0 ? "No connection: try again when online." : "Could not read the version: " + api.describe(res).message;
      return;
    }
    const p = (res.body.positions || []).find((x) => x.locationId === tx.locationId && (x.lotNumber || "") === (tx.lotNumber || ""));
    const version = p ? p.version : 0;
    const fresh = { ...tx, transactionId: uuid(), expectedVersion: version };
    await store.addScan(fresh, scan.seq);
    changed("queue");
    form.focus();
    sync.kick(true);
  },
};

// --- screens -------------------------------------------------------------

function showEnrol(reason) {
  $("#work").hidden = true;
  $("#enrol").hidden = false;
  enrolView.show(reason);
  scheduleRedraw();
}

async function startWork(d) {
  device = d;
  $("#enrol").hidden = true;
  $("#work").hidden = false;
  await catalog.load(d.warehouseId);
  scheduleRedraw();
  form.focus();
  sync.kick(true);
}

async function refreshServerData(d) {
  const res = await catalog.refresh(d);
  if (res.kind === "refused") {
    await sync.noteRefused(res);
    return;
  }
  if (res.kind === "ok") {
    await sync.noteSuccess();
    form.catalogChanged();
  } else {
    await store.update(store.KEYS.sync, (s) => ({ ...(s || {}), lastError: api.describe(res).code + ": " + api.describe(res).message, lastAttemptAt: Date.now() }));
    changed("sync");
    return;
  }
  await tasks.refresh(d);
  scheduleRedraw();
}

// --- boot ------------------------------------------------------------------

// The sticky indicator's height, so scrolling to a section (Review) does
// not put it under the indicator.
function trackHeaderHeight() {
  const header = $("#status");
  const set = () => document.documentElement.style.setProperty("--header-h", header.offsetHeight + "px");
  new ResizeObserver(set).observe(header);
  set();
}

async function boot() {
  registerWorker();
  trackHeaderHeight();
  await store.open();
  await enrol.takeTokenFromLink();
  userId = (await store.get(store.KEYS.userId)) || "";
  $("#f-user").value = userId;

  enrolView = enrol.mount($("#enrol"), (d) => startWork(d));
  form = scanform.mount($("#work"), {
    device: () => device,
    userId: () => userId,
    onQueued: () => { if (navigator.onLine) sync.kick(); },
    onRefused: (res) => sync.noteRefused(res),
    onLockReleased: () => { if (navigator.onLine) sync.kick(); },
  });

  sync.afterEachPass(async (d) => {
    await locks.releasePending(d);
    await refreshServerData(d);
  });

  onChange(async (what, fromOtherTab) => {
    if (what === "device" && fromOtherTab) {
      const d = await store.get(store.KEYS.device);
      if (d && d.scannerId && !d.pending) startWork(d);
      else { device = null; showEnrol(); }
      return;
    }
    scheduleRedraw();
  });
  addEventListener("online", async () => {
    scheduleRedraw();
    const d = await store.get(store.KEYS.device);
    if (d && d.pending) showEnrol();
  });
  addEventListener("offline", scheduleRedraw);
  setInterval(scheduleRedraw, 5000); // the 5-minute rule and the clock

  $("#st-action").addEventListener("click", (e) => {
    if (e.currentTarget.dataset.action === "reenrol") reenrol();
    else {
      $("#attention").scrollIntoView({ block: "start" });
      const first = $("#rejected-list button");
      if (first) first.focus({ preventScroll: true });
    }
  });
  $("#sync-now").addEventListener("click", () => sync.kick(true));
  $("#reenrol").addEventListener("click", reenrol);
  $("#change-wh").addEventListener("click", async () => {
    const note = $("#dev-error");
    const r = await enrol.identify(device.token);
    if (r.state === "choose") {
      $("#work").hidden = true;
      $("#enrol").hidden = false;
      enrolView.offerChoice(r);
    } else if (r.state === "ok") {
      startWork(r.device);
    } else {
      note.textContent = r.message;
    }
  });
  $("#f-user").addEventListener("change", async (e) => {
    userId = e.target.value.trim();
    await store.put(store.KEYS.userId, userId);
    drawDevice();
  });

  const d = await store.get(store.KEYS.device);
  if (d && d.scannerId && !d.pending) await startWork(d);
  else showEnrol();
  sync.start();
}

// Re-enrolment asks for a second tap (no browser dialog: it would block a
// gloved operator and the hardware keys).
let reenrolArmed = 0;
async function reenrol() {
  const b = $("#reenrol");
  if (Date.now() - reenrolArmed > 5000) {
    reenrolArmed = Date.now();
    const c = await store.counts();
    b.textContent = c.queued > 0 ? `Tap again: re-enrol (${c.queued} queued scans stay and upload with the new token)` : "Tap again to re-enrol";
    $("#device").open = true;
    b.focus();
    setTimeout(() => { b.textContent = "Re-enrol this device"; }, 5000);
    return;
  }
  reenrolArmed = 0;
  b.textContent = "Re-enrol this device";
  await enrol.forget();
  device = null;
  showEnrol();
  scheduleRedraw();
}

boot().catch((err) => {
  console.error(err);
  const s = $("#status");
  s.dataset.status = "red";
  s.querySelector(".st-title").textContent = "App error";
  s.querySelector(".st-detail").textContent = String(err && err.message || err);
});
