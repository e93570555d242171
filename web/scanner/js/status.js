// The sync indicator: green, yellow or red, always with words and a shape,
// never colour alone.
//
//   green   nothing queued and the last contact with the server succeeded
//   yellow  scans queued, or offline, or the server not answering (yet)
//   red     a rejection waiting for the operator, a refused token, or no
//           successful contact for STALE_MS while the device says online

export const STALE_MS = 5 * 60 * 1000;

export const TOKEN_REFUSED = "token refused — re-enrol this device";

function plural(n, one, many) { return `${n} ${n === 1 ? one : many}`; }

/**
 * Computes the indicator from the device's state:
 * {enrolled, tokenRefused, queued, rejected, online, lastSuccessAt,
 *  lastError, now} → {color, title, detail}
 */
export function compute(s) {
  if (!s.enrolled) {
    return { color: "yellow", title: "Not enrolled", detail: "enter this device's scanner token" };
  }
  if (s.tokenRefused) {
    return { color: "red", title: "Attention", detail: TOKEN_REFUSED };
  }
  if (s.rejected > 0) {
    return { color: "red", title: "Attention", detail: `${plural(s.rejected, "scan", "scans")} rejected — see Needs attention` };
  }
  if (s.online && s.lastSuccessAt && s.now - s.lastSuccessAt > STALE_MS) {
    const min = Math.floor((s.now - s.lastSuccessAt) / 60000);
    return { color: "red", title: "No sync", detail: `no successful sync for ${min} min — check WiFi or the server` };
  }
  if (!s.online) {
    return { color: "yellow", title: "Offline", detail: s.queued > 0 ? `${plural(s.queued, "scan", "scans")} queued — sync when WiFi returns` : "scans will be queued" };
  }
  if (s.queued > 0) {
    return { color: "yellow", title: "Queued", detail: `${plural(s.queued, "scan", "scans")} waiting to sync` };
  }
  if (s.lastError) {
    return { color: "yellow", title: "Retrying", detail: "server not answering — retrying" };
  }
  return { color: "green", title: "Synced", detail: "all scans synced" };
}

const GLYPHS = { green: "✓", yellow: "▲", red: "✖" };

// Hours and minutes fit the 360 px header; the full time is its tooltip.
function time(ms) {
  if (!ms) return { short: "never", full: "never" };
  const d = new Date(ms);
  const same = new Date().toDateString() === d.toDateString();
  const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  const full = d.toLocaleString([], { hour12: false });
  return { short: same ? hm : `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${hm}`, full };
}

/** Draws the indicator into el, touching the DOM only where text changed. */
export function render(el, s) {
  const st = compute(s);
  el.dataset.status = st.color;
  setText(el.querySelector(".st-glyph"), GLYPHS[st.color]);
  setText(el.querySelector(".st-title"), st.title);
  setText(el.querySelector(".st-detail"), st.detail);
  setText(el.querySelector(".st-queued"), String(s.queued));
  setText(el.querySelector(".st-rejected"), String(s.rejected));
  const last = time(s.lastSuccessAt);
  const lastEl = el.querySelector(".st-last");
  setText(lastEl, last.short);
  if (lastEl && lastEl.title !== last.full) lastEl.title = last.full;
  return st;
}

function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}
