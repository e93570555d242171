// Open count tasks of the device's warehouse (GET /v1/count-tasks). A
// server without the endpoint answers 404: the list is then hidden.

import * as api from "./api.js";

let tasks = []; // [{countTaskId, warehouseId, locationId, itemId?, reason, status}]
let available = null; // null: not asked yet; false: endpoint missing
const done = new Set(); // counted here, not yet closed by the server

/** Fetches the open tasks; answers the API result. */
export async function refresh(device) {
  const res = await api.call("GET", "count-tasks", { warehouseId: device.warehouseId, status: "OPEN" }, { token: device.token, refusedOn403: false });
  if (res.status === 404 || res.status === 405) {
    available = false;
    tasks = [];
    return res;
  }
  if (res.kind === "ok" && res.body && Array.isArray(res.body.countTasks)) {
    available = true;
    tasks = res.body.countTasks.filter((t) => t && t.countTaskId && t.status !== "DONE");
    const open = new Set(tasks.map((t) => t.countTaskId));
    for (const id of done) if (!open.has(id)) done.delete(id);
  }
  return res;
}

/** The tasks to offer (null when the server has no count tasks). */
export function list() {
  if (available === false) return null;
  return tasks.filter((t) => !done.has(t.countTaskId));
}

/** Hides a task counted on this device until the server closes it. */
export function markCounted(id) { if (id) done.add(id); }
