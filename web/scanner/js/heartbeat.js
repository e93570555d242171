// The device's report about its queue (spec, "Console and fleet"), so the
// fleet's offline backlogs are visible centrally: sent as the "device"
// object of every upload and as a heartbeat after every sync pass (every
// 30 s while the app is open). queued counts the scans not yet answered
// accepted or duplicate; rejected those waiting for the operator.

import * as api from "./api.js";
import * as store from "./store.js";

export const APP_VERSION = "invsync-scanner-web 3";

/** The report as the server takes it. */
export async function deviceReport() {
  const { queued, rejected } = await store.counts();
  let oldest = null;
  if (queued > 0) {
    const [first] = await store.queuedBatch(1);
    oldest = (first && first.tx && first.tx.timestamp) || null;
  }
  return { sentAt: new Date().toISOString(), queued, oldestQueuedAt: oldest, rejected, appVersion: APP_VERSION };
}

/** Sends a heartbeat; failures are left to the next one. */
export async function heartbeat(device) {
  try {
    await api.call("POST", "scanners/" + encodeURIComponent(device.scannerId) + "/heartbeat", null, {
      token: device.token,
      body: await deviceReport(),
      timeoutMs: 10000,
      refusedOn403: false,
    });
  } catch (err) {
    console.error("heartbeat failed", err);
  }
}
