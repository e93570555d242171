// Location locks for cycle counts: taken when the operator scans the
// location of a count (online only), released once the count is uploaded.
// A lock held by another scanner is a warning, not a wall: the operator may
// still count with "override".

import * as api from "./api.js";
import * as store from "./store.js";

export const TTL_SECONDS = 1800;

/**
 * Asks for the lock of locationId. Answers one of
 *   {state: "held", lockId, expiresAt}
 *   {state: "conflict", holder, expiresAt, message}
 *   {state: "offline"}                    no network: no lock
 *   {state: "refused", res}               the token was refused
 *   {state: "error", message}
 */
export async function acquire(device, locationId) {
  if (!navigator.onLine) return { state: "offline" };
  const res = await api.call("POST", "locks", null, {
    token: device.token,
    body: { warehouseId: device.warehouseId, locationId, scannerId: device.scannerId, ttlSeconds: TTL_SECONDS },
  });
  if (res.kind === "ok" && res.body && res.body.lockId) {
    return { state: "held", lockId: res.body.lockId, expiresAt: res.body.expiresAt };
  }
  if (res.status === 409) {
    const e = (res.body && res.body.error) || {};
    return { state: "conflict", holder: e.holder || "another scanner", expiresAt: e.expiresAt || null, message: e.message || "" };
  }
  if (res.kind === "refused") return { state: "refused", res };
  if (res.kind === "retry" && res.status === 0) return { state: "offline" };
  return { state: "error", message: api.describe(res).message };
}

/** Queues lockId's release; releasePending sends it after the next upload. */
export async function release(lockId) {
  if (!lockId) return;
  await store.update(store.KEYS.releases, (ids) => [...new Set([...(ids || []), lockId])]);
}

/**
 * Sends the queued releases (DELETE /v1/locks/{id}). Run after an upload
 * pass, so a count is uploaded before its location is unlocked. A 404 (the
 * lock already ended) counts as released; no answer keeps it queued.
 */
export async function releasePending(device) {
  const ids = (await store.get(store.KEYS.releases)) || [];
  for (const id of ids) {
    const res = await api.call("DELETE", "locks/" + encodeURIComponent(id), null, { token: device.token, refusedOn403: false });
    if (res.kind === "retry") return;
    await store.update(store.KEYS.releases, (list) => (list || []).filter((x) => x !== id));
  }
}

/** The time part of an ISO timestamp, for messages ("until 10:42"). */
export function clock(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return "";
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}
