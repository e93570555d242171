// The device's durable state, in IndexedDB.
//
//   kv       settings and sync state, by key (see KEYS)
//   scans    the queue: {seq, tx, state: "queued"|"rejected", queuedAt,
//            code?, message?, outcome?}; seq (auto-increment) is the upload
//            order, oldest first; tx is sent exactly as stored, every time
//   history  the last HISTORY_SIZE synced scans, for the operator's eyes
//
// Every write that records a scan commits with durability "strict": the
// promise resolves only once the scan is on disk, so a scan shown as queued
// survives a killed browser or a pulled battery.

const DB_NAME = "invsync-scanner";
const DB_VERSION = 1;
export const HISTORY_SIZE = 25;

export const KEYS = {
  device: "device", // {token, tokenId, scannerId, role, warehouses, expiresAt, warehouseId, enrolledAt}
  userId: "userId", // the operator, remembered
  sync: "sync", // {lastSuccessAt, lastAttemptAt, lastError, failures, nextAttemptAt, tokenRefused}
  releases: "releases", // lock ids to DELETE once the scans before them are uploaded
  lease: "uploadLease", // {owner, until}: the upload lease where Web Locks are missing
  catalog: (wh) => "catalog:" + wh, // {etag, fetchedAt, locations: [...], items: {id: item}}
};

let dbPromise = null;

function promisify(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("IndexedDB transaction aborted"));
  });
}

/** Opens the database, creating its stores on first use. */
export function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        db.createObjectStore("kv");
        const scans = db.createObjectStore("scans", { keyPath: "seq", autoIncrement: true });
        scans.createIndex("state", "state");
        scans.createIndex("transactionId", "tx.transactionId", { unique: true });
        db.createObjectStore("history", { keyPath: "seq" });
      };
      req.onsuccess = () => {
        const db = req.result;
        // Another tab upgrading the schema: let it, and reopen later.
        db.onversionchange = () => {
          db.close();
          dbPromise = null;
        };
        resolve(db);
      };
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error("the scanner database is blocked by another tab"));
    });
  }
  return dbPromise;
}

async function run(stores, mode, fn, durability = "default") {
  const db = await open();
  const tx = db.transaction(stores, mode, { durability });
  const result = fn(tx);
  await done(tx);
  return result instanceof Promise ? await result : result;
}

export async function get(key) {
  return run("kv", "readonly", (tx) => promisify(tx.objectStore("kv").get(key)));
}

export async function put(key, value) {
  return run("kv", "readwrite", (tx) => { tx.objectStore("kv").put(value, key); }, "strict");
}

export async function del(key) {
  return run("kv", "readwrite", (tx) => { tx.objectStore("kv").delete(key); }, "strict");
}

/** Reads key, applies fn to it and stores the result, in one transaction. */
export async function update(key, fn) {
  let out;
  await run("kv", "readwrite", (tx) => {
    const s = tx.objectStore("kv");
    s.get(key).onsuccess = (e) => {
      out = fn(e.target.result);
      if (out === undefined) s.delete(key);
      else s.put(out, key);
    };
  }, "strict");
  return out;
}

/**
 * Appends a scan to the queue and resolves once it is on disk. When
 * replaces is given (the seq of a rejected scan this one corrects), that
 * entry is removed in the same transaction.
 */
export async function addScan(tx, replaces) {
  let seq;
  await run("scans", "readwrite", (t) => {
    const s = t.objectStore("scans");
    s.add({ tx, state: "queued", queuedAt: new Date().toISOString() }).onsuccess = (e) => { seq = e.target.result; };
    if (replaces != null) s.delete(replaces);
  }, "strict");
  return seq;
}

/** The oldest queued scans, at most limit, in upload order. */
export async function queuedBatch(limit) {
  return run("scans", "readonly", (t) => new Promise((resolve, reject) => {
    const out = [];
    const req = t.objectStore("scans").index("state").openCursor(IDBKeyRange.only("queued"));
    req.onsuccess = () => {
      const c = req.result;
      if (!c || out.length >= limit) return resolve(out);
      out.push(c.value);
      c.continue();
    };
    req.onerror = () => reject(req.error);
  }));
}

/** Scans in state ("queued" or "rejected"), in seq order. */
export async function scansIn(state) {
  return run("scans", "readonly", (t) => promisify(t.objectStore("scans").index("state").getAll(IDBKeyRange.only(state))));
}

export async function counts() {
  return run("scans", "readonly", (t) => {
    const idx = t.objectStore("scans").index("state");
    return Promise.all([promisify(idx.count("queued")), promisify(idx.count("rejected"))])
      .then(([queued, rejected]) => ({ queued, rejected }));
  });
}

export async function getScan(seq) {
  return run("scans", "readonly", (t) => promisify(t.objectStore("scans").get(seq)));
}

export async function deleteScan(seq) {
  return run("scans", "readwrite", (t) => { t.objectStore("scans").delete(seq); }, "strict");
}

/**
 * Applies an upload's answers in one transaction. synced: [{seq, result}]
 * leave the queue for the history; rejected: [{seq, code, message,
 * outcome}] stay, marked rejected. A scan already gone (dismissed in
 * another tab meanwhile) is skipped.
 */
export async function applyResults(synced, rejected) {
  const now = new Date().toISOString();
  await run(["scans", "history"], "readwrite", (t) => {
    const scans = t.objectStore("scans");
    const history = t.objectStore("history");
    for (const { seq, result } of synced) {
      scans.get(seq).onsuccess = (e) => {
        const s = e.target.result;
        if (!s) return;
        scans.delete(seq);
        history.put({ seq, tx: s.tx, status: result.status, outcome: result.outcome || null, syncedAt: now });
      };
    }
    for (const r of rejected) {
      scans.get(r.seq).onsuccess = (e) => {
        const s = e.target.result;
        if (!s) return;
        scans.put({ ...s, state: "rejected", code: r.code, message: r.message, outcome: r.outcome || null, rejectedAt: now });
      };
    }
  }, "strict");
}

/** Drops all but the newest HISTORY_SIZE synced scans. */
export async function trimHistory() {
  await run("history", "readwrite", (t) => {
    const history = t.objectStore("history");
    history.count().onsuccess = (e) => {
      let extra = e.target.result - HISTORY_SIZE;
      if (extra <= 0) return;
      history.openCursor().onsuccess = (ev) => {
        const c = ev.target.result;
        if (!c || extra <= 0) return;
        c.delete();
        extra--;
        c.continue();
      };
    };
  });
}

/** The synced scans kept for display, newest first. */
export async function recent() {
  const all = await run("history", "readonly", (t) => promisify(t.objectStore("history").getAll()));
  return all.reverse();
}
