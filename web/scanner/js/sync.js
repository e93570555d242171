// The uploader: sends the queue to POST /v1/transactions?wait=applied,
// oldest first, at most MAX_BATCH a request, and files each answer.
//
// - accepted / duplicate: synced (leaves the queue), unless the processors'
//   outcome is "rejected" (VERSION_CONFLICT, LOCATION_LOCKED): listed with
//   the rejections
// - rejected: stays listed with its code and message
// - no answer (network error, timeout, 5xx, 429): the whole request is kept
//   and sent again, unchanged but for sentAt, after a back-off (Retry-After
//   when the server gives one)
// - 401/403: the token is refused; nothing is sent until the device is
//   enrolled again
//
// Only one tab of the device uploads at a time (Web Locks; an IndexedDB
// lease where they are missing). A scan leaves the queue only when the
// server's answer names it, so a browser killed mid-request resends it on
// its next start, and the server's idempotency by transactionId makes that
// resend a "duplicate", never a second application.

import * as api from "./api.js";
import * as store from "./store.js";
import { changed } from "./bus.js";
import { traceparent } from "./ids.js";
import { deviceReport, heartbeat } from "./heartbeat.js";

export const MAX_BATCH = 1000;
export const INTERVAL_MS = 30000;
const MAX_BACKOFF_MS = 30000;
const MAX_RETRY_AFTER_MS = 10 * 60 * 1000;
const UPLOAD_TIMEOUT_MS = 30000; // ?wait=applied answers within 10 s
const LEASE_MS = 60000;
const tabId = Math.random().toString(36).slice(2);

let running = null;
let again = false;
let timer = null;
let afterUpload = []; // hooks run after each pass (lock releases, refreshes)

/** Registers fn(device, online) to run after each upload pass. */
export function afterEachPass(fn) { afterUpload.push(fn); }

/** Records that the server answered this device (any 2xx/304). */
export async function noteSuccess() {
  await store.update(store.KEYS.sync, (s) => ({ ...(s || {}), lastSuccessAt: Date.now(), lastError: null, failures: 0, tokenRefused: false, nextAttemptAt: 0 }));
  changed("sync");
}

/** Records a refused token: red until the device is enrolled again. */
export async function noteRefused(res) {
  const d = api.describe(res);
  await store.update(store.KEYS.sync, (s) => ({ ...(s || {}), tokenRefused: true, lastError: `${d.code}: ${d.message}`, lastAttemptAt: Date.now() }));
  changed("sync");
}

async function noteFailure(res) {
  const d = api.describe(res);
  const s = await store.update(store.KEYS.sync, (s) => {
    s = { ...(s || {}) };
    s.failures = (s.failures || 0) + 1;
    let wait = Math.min(MAX_BACKOFF_MS, 2000 * 2 ** (s.failures - 1));
    if (res.retryAfterMs != null) wait = Math.min(MAX_RETRY_AFTER_MS, Math.max(res.retryAfterMs, 1000));
    s.nextAttemptAt = Date.now() + wait;
    s.lastAttemptAt = Date.now();
    s.lastError = `${d.code}: ${d.message}`;
    return s;
  });
  changed("sync");
  schedule(s.nextAttemptAt - Date.now());
}

/**
 * Runs an upload pass now unless one runs (then once more after it).
 * force ignores the back-off (the operator's "Sync now", the online event).
 */
export function kick(force = false) {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    try {
      do {
        again = false;
        await withUploadLock(() => pass(force));
        force = false;
      } while (again);
    } catch (err) {
      console.error("sync pass failed", err);
    } finally {
      running = null;
    }
  })();
  return running;
}

/** Starts the 30-second cycle and the online/visibility triggers. */
export function start() {
  addEventListener("online", () => kick(true));
  document.addEventListener("visibilitychange", () => { if (!document.hidden) kick(); });
  schedule(0);
}

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(() => {
    schedule(INTERVAL_MS);
    kick();
  }, Math.max(0, Math.min(ms, INTERVAL_MS)));
}

async function withUploadLock(fn) {
  if (navigator.locks && navigator.locks.request) {
    return navigator.locks.request("invsync-upload", { ifAvailable: true }, async (lock) => {
      if (!lock) return "busy"; // another tab is uploading this queue
      return fn();
    });
  }
  // Fallback: a lease in IndexedDB, renewed by each pass.
  const now = Date.now();
  const lease = await store.update(store.KEYS.lease, (l) =>
    (!l || l.until < now || l.owner === tabId) ? { owner: tabId, until: now + LEASE_MS } : l);
  if (lease.owner !== tabId) return "busy";
  try {
    return await fn();
  } finally {
    await store.update(store.KEYS.lease, (l) => (l && l.owner === tabId ? undefined : l));
  }
}

async function pass(force) {
  const device = await store.get(store.KEYS.device);
  if (!device || !device.token || !device.scannerId) return;
  const state = (await store.get(store.KEYS.sync)) || {};
  if (state.tokenRefused) return;
  if (!force && state.nextAttemptAt && Date.now() < state.nextAttemptAt) return;
  let limit = MAX_BATCH;
  let uploaded = false;
  for (;;) {
    const batch = await store.queuedBatch(limit);
    if (batch.length === 0) break;
    const res = await upload(device, batch);
    if (res.kind === "ok") {
      if (await file(batch, res.body) === 0) {
        // An answer that names none of the scans sent: try again later
        // rather than loop on the same batch.
        await noteFailure({ ...res, body: { error: { code: "BAD_ANSWER", message: "the upload answer names none of the scans sent" } } });
        return;
      }
      uploaded = true;
      limit = MAX_BATCH;
      continue;
    }
    if (res.kind === "refused") {
      await noteRefused(res);
      return;
    }
    if (res.kind === "retry") {
      await noteFailure(res);
      return;
    }
    // A whole-request client error (413 too large, 400 malformed): halve
    // the batch to isolate the culprit; a single scan the server cannot
    // take is listed as rejected with the server's reason.
    if (batch.length > 1) {
      limit = Math.max(1, Math.floor(batch.length / 2));
      continue;
    }
    const d = api.describe(res);
    await store.applyResults([], [{ seq: batch[0].seq, code: d.code, message: d.message }]);
    changed("queue");
  }
  await heartbeat(device);
  for (const fn of afterUpload) {
    try {
      await fn(device, uploaded);
    } catch (err) {
      console.error("after-upload step failed", err);
    }
  }
}

async function upload(device, batch) {
  const res = await api.call("POST", "transactions", { wait: "applied" }, {
    token: device.token,
    headers: { traceparent: traceparent() },
    timeoutMs: UPLOAD_TIMEOUT_MS,
    body: { scannerId: device.scannerId, sentAt: new Date().toISOString(), transactions: batch.map((s) => s.tx), device: await deviceReport() },
  });
  if (res.kind === "ok" && !(res.body && Array.isArray(res.body.results))) {
    return { ...res, kind: "retry", body: { error: { code: "BAD_ANSWER", message: "the upload answer has no results" } } };
  }
  if (res.kind === "ok") await noteSuccess();
  return res;
}

/** Files an upload's results against the batch it answers; returns how many it filed. */
async function file(batch, body) {
  const byId = new Map();
  for (const r of body.results) if (r && r.transactionId) byId.set(r.transactionId, r);
  const synced = [];
  const rejected = [];
  for (const s of batch) {
    const r = byId.get(s.tx.transactionId);
    if (!r) continue; // unanswered: stays queued, resent next time
    const o = r.outcome;
    if ((r.status === "accepted" || r.status === "duplicate") && !(o && o.status === "rejected")) {
      synced.push({ seq: s.seq, result: r });
    } else if (r.status === "rejected") {
      rejected.push({ seq: s.seq, code: r.code || "REJECTED", message: r.message || "", outcome: o || null });
    } else if (o && o.status === "rejected") {
      rejected.push({ seq: s.seq, code: o.code || "REJECTED", message: o.message || "rejected when applied", outcome: o });
    }
  }
  await store.applyResults(synced, rejected);
  await store.trimHistory();
  changed("queue");
  return synced.length + rejected.length;
}
