// The console's shell: sign-in, the navigation, the warehouse picker and
// the hash router (#/overview, #/scanners/{id}, ...). Each screen module
// exports render(ctx); ctx.live(fn, ms, kinds) re-runs fn while the screen
// is shown: on each change of those kinds the tab's stream reports, or
// every ms while the stream is down (or when no kinds are given).

import * as api from "./api.js";
import * as stream from "./stream.js";
import { h, fill, toast } from "./dom.js";
import * as overview from "./overview.js";
import * as scanners from "./scanners.js";
import * as discrepancies from "./discrepancies.js";
import * as counts from "./counts.js";
import * as tasks from "./counttasks.js";
import * as locks from "./locks.js";
import * as allocations from "./allocations.js";
import * as tokens from "./tokens.js";

const SCREENS = [
  ["overview", "Overview", overview.render],
  ["scanners", "Scanners", scanners.render, scanners.renderOne],
  ["discrepancies", "Discrepancies", discrepancies.render, discrepancies.renderOne],
  ["counts", "Counts", counts.render],
  ["count-tasks", "Count tasks", tasks.render],
  ["locks", "Locks", locks.render],
  ["allocations", "Allocations", allocations.render],
  ["tokens", "Tokens", tokens.render],
];
const ROLES = ["admin", "supervisor", "reader"];

const main = document.getElementById("main");
const header = document.querySelector("header.top");
const whSelect = document.getElementById("warehouse");
let me = null;
let timers = [];
let unsubscribe = [];
let generation = 0;

function stopLive() {
  for (const t of timers) clearInterval(t);
  for (const u of unsubscribe) u();
  timers = [];
  unsubscribe = [];
  generation++;
}

// A token in the address (/console/#token=...) signs in and leaves the
// address at once, before anything else runs.
function takeTokenFromAddress() {
  const m = /^#token=([^&]+)/.exec(location.hash);
  if (!m) return null;
  history.replaceState(null, "", location.pathname + location.search + "#/overview");
  return decodeURIComponent(m[1]);
}

async function signIn(tok) {
  const who = await api.call("GET", "me", { tok });
  if (!ROLES.includes(who.role)) throw new api.APIError(403, "FORBIDDEN", `a ${who.role} token cannot use the console: sign in as admin, supervisor or reader`);
  api.setToken(tok);
  return who;
}

function showSignIn(message) {
  stopLive();
  stream.stop();
  me = null;
  header.hidden = true;
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true, "aria-describedby": "signin-help" });
  const err = h("p", { class: "error", role: "alert" }, message || "");
  const form = h("form", { "aria-label": "Sign in" },
    h("label", { for: "token" }, "Token"), input,
    h("p", { id: "signin-help", class: "muted" }, "An admin, supervisor or reader token. It is kept in this tab only."),
    h("button", { type: "submit", class: "primary", "data-action": "sign-in" }, "Sign in"), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      me = await signIn(input.value.trim());
      await start();
    } catch (ex) {
      err.textContent = ex.message;
    }
  });
  fill(main, h("div", { class: "signin" }, h("h1", {}, "invsync console"), form));
  input.focus();
}

async function loadWarehouses() {
  let whs = me.warehouses || [];
  if (whs.includes("*")) {
    try {
      const cat = await api.get("catalog");
      whs = (cat.warehouses || []).map((w) => w.warehouseId);
    } catch { whs = []; }
  }
  const keep = sessionStorage.getItem("invsync.console.warehouse");
  fill(whSelect, whs.map((w) => h("option", { value: w, selected: w === keep }, w)));
}

async function start() {
  header.hidden = false;
  document.getElementById("signed-in-as").textContent = `${me.name} (${me.role})`;
  const nav = document.getElementById("nav");
  fill(nav, SCREENS.filter(([id]) => id !== "tokens" || me.role === "admin")
    .map(([id, label]) => h("li", {}, h("a", { href: "#/" + id, "data-screen": id }, label))));
  await loadWarehouses();
  stream.start();
  if (!location.hash.startsWith("#/")) location.hash = "#/overview";
  else route();
}

function route() {
  if (!me) return;
  stopLive();
  const gen = generation;
  const [id, ...rest] = location.hash.replace(/^#\//, "").split("/");
  const screen = SCREENS.find(([s]) => s === id) || SCREENS[0];
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.screen === screen[0]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const param = rest.length ? decodeURIComponent(rest.join("/")) : null;
  const ctx = {
    main, me, param,
    warehouse: whSelect.value,
    warehouses: [...whSelect.options].map((o) => o.value),
    canAct: me.role === "admin" || me.role === "supervisor",
    isAdmin: me.role === "admin",
    current: () => gen === generation,
    live(fn, ms, kinds) {
      let last = 0;
      const run = () => { if (gen === generation) { last = Date.now(); fn().catch(showError); } };
      run();
      if (!kinds) { timers.push(setInterval(run, ms)); return; }
      // Changes come in bursts (a fleet's heartbeats): one re-fetch for
      // those within 250 ms, and at most one a second.
      let soon = null;
      const again = () => {
        if (!soon) soon = setTimeout(() => { soon = null; run(); }, Math.max(250, 1000 - (Date.now() - last)));
      };
      let poll = null;
      const state = (up) => {
        clearInterval(poll);
        poll = up ? null : setInterval(run, ms);
        if (up) again(); // what changed while it was down
      };
      unsubscribe.push(stream.subscribe(kinds, again, state), () => { clearInterval(poll); clearTimeout(soon); });
      if (!stream.isUp()) poll = setInterval(run, ms);
    },
  };
  document.title = screen[1] + " · invsync console";
  fill(main);
  const render = param && screen[3] ? screen[3] : screen[2];
  Promise.resolve(render(ctx)).catch(showError);
}

function showError(err) {
  if (err && err.status === 401) return; // signed out already
  toast(err && err.message ? err.message : String(err));
}

whSelect.addEventListener("change", () => {
  sessionStorage.setItem("invsync.console.warehouse", whSelect.value);
  route();
});
document.getElementById("sign-out").addEventListener("click", () => {
  api.clearToken();
  showSignIn("Signed out.");
});
api.whenSignedOut((msg) => showSignIn("Sign in again: " + msg));
addEventListener("hashchange", () => {
  const t = takeTokenFromAddress();
  if (t) { boot(t); return; }
  route();
});

async function boot(fromAddress) {
  const tok = fromAddress || api.token();
  if (!tok) { showSignIn(); return; }
  try {
    me = await signIn(tok);
    await start();
  } catch (err) {
    api.clearToken();
    showSignIn(err.message);
  }
}

boot(takeTokenFromAddress());
