// The device's copy of its warehouse's catalog (locations and items), for
// checking scans with no network. Refreshed with If-None-Match whenever the
// device is online; a 304 keeps the copy.

import * as api from "./api.js";
import * as store from "./store.js";
import { changed } from "./bus.js";

let current = null; // {warehouseId, etag, fetchedAt, locations: Set, items: Map}

function hydrate(warehouseId, doc) {
  if (!doc) return null;
  return {
    warehouseId,
    etag: doc.etag || null,
    fetchedAt: doc.fetchedAt || null,
    warehouseKnown: doc.warehouseKnown !== false,
    locations: new Set(doc.locations || []),
    items: new Map(Object.entries(doc.items || {})),
  };
}

/** Loads the stored copy for warehouseId (null when none yet). */
export async function load(warehouseId) {
  current = hydrate(warehouseId, await store.get(store.KEYS.catalog(warehouseId)));
  return current;
}

/** The catalog in use, or null. */
export function get() { return current; }

/** An item by id, or undefined. */
export function item(id) { return current ? current.items.get(id) : undefined; }

/**
 * Refreshes the copy from GET /v1/catalog?warehouseId=. Answers the API
 * result (kind "ok" for 200 and 304).
 */
export async function refresh(device) {
  const wh = device.warehouseId;
  const key = store.KEYS.catalog(wh);
  const stored = await store.get(key);
  const headers = {};
  if (stored && stored.etag) headers["If-None-Match"] = stored.etag;
  const res = await api.call("GET", "catalog", { warehouseId: wh }, { token: device.token, headers });
  if (res.kind !== "ok") return res;
  if (res.status === 304 && stored) {
    await store.put(key, { ...stored, fetchedAt: Date.now() });
    if (!current || current.warehouseId !== wh) await load(wh);
    return res;
  }
  const body = res.body || {};
  // The answer may hold every warehouse (a server without the filter):
  // keep only this one's locations.
  const w = (body.warehouses || []).find((x) => x.warehouseId === wh);
  const items = {};
  for (const it of body.items || []) {
    if (it && it.itemId) {
      items[it.itemId] = {
        itemId: it.itemId,
        description: it.description || "",
        lotTracked: !!it.lotTracked,
        maxTransactionQuantity: it.maxTransactionQuantity || 0,
        abcClass: it.abcClass || null,
      };
    }
  }
  const doc = {
    etag: res.headers.get("ETag"),
    fetchedAt: Date.now(),
    warehouseKnown: !!w,
    locations: w ? w.locations || [] : [],
    items,
  };
  await store.put(key, doc);
  current = hydrate(wh, doc);
  changed("catalog");
  return res;
}

/** The warehouses the catalog lists (for a token valid in all of them). */
export async function listWarehouses(token) {
  const res = await api.call("GET", "catalog", null, { token });
  if (res.kind !== "ok" || !res.body) return null;
  return (res.body.warehouses || []).map((w) => w.warehouseId).filter(Boolean);
}
