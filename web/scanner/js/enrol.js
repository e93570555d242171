// Enrolment: the device gets its scanner token (typed, pasted, scanned, or
// from the link /scanner/#token=...), asks GET /v1/me who it is, and keeps
// token and identity in IndexedDB. The scanner id is the token's name; the
// warehouse is the token's, chosen by the operator when it has several.
// Re-enrolling never touches the queue: queued scans are uploaded with the
// new token.

import * as api from "./api.js";
import * as store from "./store.js";
import * as catalog from "./catalog.js";
import { changed } from "./bus.js";

const UPLOAD_ROLES = new Set(["scanner", "admin"]);

/**
 * Takes a token from the URL fragment (#token=...), stores it, and removes
 * it from the address bar and history. Answers whether there was one.
 */
export async function takeTokenFromLink() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = (params.get("token") || "").trim();
  if (!token) return false;
  await store.put(store.KEYS.device, { token, pending: true });
  history.replaceState(null, "", location.pathname + location.search);
  changed("device");
  return true;
}

/**
 * Asks the server who token is. Answers
 *   {state: "ok", device}             enrolled (stored)
 *   {state: "choose", me, warehouses} the operator must pick a warehouse
 *   {state: "refused", message}       the server refused the token
 *   {state: "offline", message}       no answer: try again when online
 *   {state: "error", message}
 */
export async function identify(token) {
  token = (token || "").trim();
  if (!token) return { state: "error", message: "Enter the scanner token." };
  const res = await api.call("GET", "me", null, { token });
  if (res.kind === "refused") return { state: "refused", message: "Token refused by invsync: check it, or ask a supervisor for a new one." };
  if (res.kind === "retry") return { state: "offline", message: "Cannot reach invsync: connect to WiFi, the token is kept and enrolment finishes when online." };
  if (res.kind !== "ok" || !res.body) return { state: "error", message: "Enrolment failed: " + api.describe(res).message };
  const me = res.body;
  if (!me.name) return { state: "error", message: "The server did not say this token's name." };
  if (me.role && !UPLOAD_ROLES.has(me.role)) {
    return { state: "error", message: `This token is a ${me.role} token: scanners need a scanner token.` };
  }
  let warehouses = Array.isArray(me.warehouses) ? me.warehouses : [];
  if (warehouses.includes("*")) {
    warehouses = (await catalog.listWarehouses(token)) || [];
  }
  if (warehouses.length === 0) return { state: "error", message: "This token is valid in no warehouse." };
  if (warehouses.length === 1) return { state: "ok", device: await save(token, me, warehouses[0]) };
  return { state: "choose", me, warehouses, token };
}

/** Stores the enrolled device and clears a previous refusal. */
export async function save(token, me, warehouseId) {
  const device = {
    token,
    tokenId: me.tokenId || null,
    scannerId: me.name,
    role: me.role || null,
    warehouses: me.warehouses || [],
    expiresAt: me.expiresAt || null,
    warehouseId,
    enrolledAt: new Date().toISOString(),
  };
  await store.put(store.KEYS.device, device);
  await store.update(store.KEYS.sync, (s) => ({ ...(s || {}), tokenRefused: false, lastError: null, failures: 0, nextAttemptAt: 0, lastSuccessAt: Date.now() }));
  changed("device");
  return device;
}

/** Forgets token and identity (not the queue): the device must enrol again. */
export async function forget() {
  await store.del(store.KEYS.device);
  changed("device");
}

/** Wires the enrolment screen. onEnrolled(device) runs once enrolled. */
export function mount(root, onEnrolled) {
  const form = root.querySelector("#enrol-form");
  const input = root.querySelector("#token");
  const msg = root.querySelector("#enrol-msg");
  const choice = root.querySelector("#wh-choice");
  const choices = root.querySelector("#wh-buttons");

  function say(text, kind = "info") {
    msg.textContent = text;
    msg.dataset.kind = kind;
  }

  function offerChoice(r) {
    say("Choose this device's warehouse.");
    choices.replaceChildren(...r.warehouses.map((wh) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "big";
      b.textContent = wh;
      b.addEventListener("click", async () => {
        const device = await save(r.token, r.me, wh);
        choice.hidden = true;
        input.value = "";
        say("");
        onEnrolled(device);
      });
      return b;
    }));
    choice.hidden = false;
    choices.querySelector("button").focus();
  }

  async function attempt(token) {
    say("Checking the token…");
    choice.hidden = true;
    const r = await identify(token);
    switch (r.state) {
      case "ok":
        say("");
        input.value = "";
        onEnrolled(r.device);
        return;
      case "choose":
        offerChoice(r);
        return;
      case "offline":
        await store.put(store.KEYS.device, { token: token.trim(), pending: true });
        say(r.message, "warn");
        return;
      default:
        say(r.message, "error");
        input.focus();
        input.select();
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    attempt(input.value);
  });

  return {
    /** Shows the screen; finishes a stored pending token when there is one. */
    async show(reason) {
      const d = await store.get(store.KEYS.device);
      if (reason) say(reason, "error");
      else say("");
      if (d && d.pending && d.token) {
        await attempt(d.token);
      } else {
        input.focus();
      }
    },
    /** Offers the warehouses of an identify answer in state "choose". */
    offerChoice,
  };
}
