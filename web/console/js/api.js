// The invsync HTTP API as the console uses it. The token lives in this
// tab's sessionStorage only (never in a URL, never kept beyond the tab); a 401
// clears it and returns the tab to sign-in.

const KEY = "invsync.console.token";
const base = new URL("../v1/", document.baseURI);
let onSignedOut = () => {};

export function token() { return sessionStorage.getItem(KEY); }
export function setToken(t) { sessionStorage.setItem(KEY, t); }
export function clearToken() { sessionStorage.removeItem(KEY); }
/** Registers what happens when the server refuses the token (401). */
export function whenSignedOut(fn) { onSignedOut = fn; }
/** The server refused the token: forget it and return to sign-in. */
export function signOut(msg) { clearToken(); onSignedOut(msg); }

export class APIError extends Error {
  constructor(status, code, message) {
    super(message || code || "HTTP " + status);
    this.status = status;
    this.code = code || "HTTP_" + status;
  }
}

/**
 * Calls the API: method, path under /v1/, query object, body (JSON). Every
 * change carries a fresh Idempotency-Key. Resolves to the decoded answer
 * (null for 204); rejects with APIError.
 */
export async function call(method, path, { query, body, tok } = {}) {
  const u = new URL(path, base);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, v);
  const headers = { Accept: "application/json", Authorization: "Bearer " + (tok || token() || "") };
  if (method !== "GET") headers["Idempotency-Key"] = crypto.randomUUID();
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(u, { method, headers, body: payload, cache: "no-store", credentials: "omit", signal: AbortSignal.timeout(20000) });
  } catch (err) {
    throw new APIError(0, "NETWORK", "no answer from the server: " + (err && err.message || err));
  }
  const text = await res.text().catch(() => "");
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch { data = null; } }
  if (res.ok) return data;
  const e = (data && data.error) || {};
  if (res.status === 401 && !tok) {
    clearToken();
    onSignedOut(e.message || "signed out");
  }
  throw new APIError(res.status, e.code, e.message);
}

export const get = (path, query) => call("GET", path, { query });

/**
 * GET of a page some roles may not see: resolves to the answer (decoded
 * JSON, or null for 204), or, when the server refuses the role (403), calls
 * denied() and resolves to undefined, which no answer is. Any other error
 * rejects as from get.
 */
export async function getUnlessDenied(path, query, denied) {
  try {
    return await get(path, query);
  } catch (err) {
    if (err.status === 403) { denied(); return undefined; }
    throw err;
  }
}
