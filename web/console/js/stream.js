// The console's live updates: one GET /v1/console/stream per tab, read
// with fetch so the bearer header goes with it (an EventSource cannot send
// it, and the token never goes in a URL). Each event names what changed
// (discrepancy, held, scanner, lock, token, count-task, overview); the
// screens re-fetch what they show. While the stream is down the screens
// poll and the stream is retried with backoff. <html data-live> says which
// ("stream" or "polling"), data-live-connects how often it connected.

import * as api from "./api.js";

const listeners = new Set();
let controller = null;
let up = false;
let retryTimer = null;
let backoff = 1000;
let connects = 0;

function setUp(v) {
  up = v;
  document.documentElement.dataset.live = v ? "stream" : "polling";
  for (const l of listeners) l.state(v);
}

/** Whether the stream is connected (screens poll while it is not). */
export function isUp() { return up; }

/**
 * Calls onEvent(kind, event) for each event whose kind is in kinds, and
 * onState(up) whenever the stream connects or drops. Returns the
 * unsubscribe.
 */
export function subscribe(kinds, onEvent, onState) {
  const l = { kinds: new Set(kinds), event: onEvent, state: onState };
  listeners.add(l);
  return () => listeners.delete(l);
}

/** Opens the tab's stream (once signed in). */
export function start() {
  if (controller) return;
  connect();
}

/** Closes the stream (signed out). */
export function stop() {
  if (controller) controller.abort();
  controller = null;
  clearTimeout(retryTimer);
  backoff = 1000;
  setUp(false);
}

function retry() {
  if (!controller) return;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(connect, backoff);
  backoff = Math.min(backoff * 2, 30000);
}

async function connect() {
  const mine = new AbortController();
  controller = mine;
  let res;
  try {
    res = await fetch(new URL("../v1/console/stream", document.baseURI), {
      headers: { Accept: "text/event-stream", Authorization: "Bearer " + (api.token() || "") },
      cache: "no-store", credentials: "omit", signal: mine.signal,
    });
  } catch {
    if (controller === mine) { setUp(false); retry(); }
    return;
  }
  if (res.status === 401) {
    controller = null;
    setUp(false);
    api.signOut("the token was refused");
    return;
  }
  if (!res.ok || !res.body) {
    if (controller === mine) { setUp(false); retry(); }
    return;
  }
  const opened = Date.now();
  connects++;
  document.documentElement.dataset.liveConnects = String(connects);
  backoff = 1000;
  setUp(true);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        dispatch(buf.slice(0, i));
        buf = buf.slice(i + 2);
      }
    }
  } catch { /* aborted or cut: retried below */ }
  if (controller === mine) {
    setUp(false);
    // Ended by the server: reconnect at once (a revoked token is then
    // answered 401), with backoff if it keeps ending early.
    if (Date.now() - opened > 5000) connect();
    else retry();
  }
}

function dispatch(frame) {
  let kind = "", data = "";
  for (const line of frame.split("\n")) {
    if (line.startsWith("event: ")) kind = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (!kind) return; // a comment: connected, heartbeat
  let ev = {};
  try { ev = JSON.parse(data); } catch { /* the kind is enough */ }
  for (const l of listeners) if (l.kinds.has(kind)) l.event(kind, ev);
}
