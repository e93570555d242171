// The invsync HTTP API as the scanner uses it. Every call answers an
// object, never throws for HTTP or network trouble:
//
//   {kind, status, body, headers, retryAfterMs}
//
//   kind "ok"       2xx or 304
//        "refused"  401, or 403 where the token itself is refused
//        "retry"    no answer (network error, timeout), 5xx, 429: nothing
//                   of the request may be assumed done; send it again later
//        "client"   any other 4xx: the request itself is wrong

// The API lives at /v1/ next to /scanner/, wherever invsync is mounted.
const base = new URL("../v1/", document.baseURI);

export function url(path, query) {
  const u = new URL(path, base);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null) u.searchParams.set(k, v);
  }
  return u;
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds. */
export function retryAfterMs(value, now = Date.now()) {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * Sends one request. opts: {token, body (JSON-encoded here), headers,
 * timeoutMs (default 20 s), refusedOn403 (default true)}.
 */
export async function call(method, path, query, opts = {}) {
  const headers = { Accept: "application/json", ...(opts.headers || {}) };
  if (opts.token) headers.Authorization = "Bearer " + opts.token;
  let body;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch(url(path, query), {
      method, headers, body,
      cache: "no-store",
      credentials: "omit",
      signal: AbortSignal.timeout(opts.timeoutMs || 20000),
    });
  } catch (err) {
    return { kind: "retry", status: 0, body: null, headers: null, retryAfterMs: null, error: String(err && err.message || err) };
  }
  let parsed = null;
  const text = await res.text().catch(() => "");
  if (text) {
    try { parsed = JSON.parse(text); } catch { parsed = null; }
  }
  const out = { status: res.status, body: parsed, headers: res.headers, retryAfterMs: retryAfterMs(res.headers.get("Retry-After")) };
  const refusedOn403 = opts.refusedOn403 !== false;
  if ((res.status >= 200 && res.status < 300) || res.status === 304) out.kind = "ok";
  else if (res.status === 401 || (res.status === 403 && refusedOn403)) out.kind = "refused";
  else if (res.status === 429 || res.status >= 500) out.kind = "retry";
  else out.kind = "client";
  return out;
}

/** The error body's code and message, or a description of the status. */
export function describe(res) {
  const e = res.body && res.body.error;
  if (e && (e.code || e.message)) return { code: e.code || "HTTP_" + res.status, message: e.message || "" };
  if (res.status === 0) return { code: "NETWORK", message: res.error || "no answer from the server" };
  return { code: "HTTP_" + res.status, message: "the server answered " + res.status };
}
