// "Something changed, redraw": within this tab and across the device's
// other tabs of the app (BroadcastChannel), so two open tabs show the same
// queue.

const listeners = new Set();
const channel = "BroadcastChannel" in self ? new BroadcastChannel("invsync-scanner") : null;

if (channel) channel.onmessage = (e) => { for (const fn of listeners) fn(e.data, true); };

export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Tells every listener here and in other tabs what changed ("queue", "device", ...). */
export function changed(what) {
  for (const fn of listeners) fn(what, false);
  if (channel) channel.postMessage(what);
}
