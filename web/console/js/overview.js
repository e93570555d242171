// Overview: the flow, the partitions, Kafka, dead letters, the last
// snapshot and the fleet, from GET /v1/console/overview every 5 s, with
// charts of the last hour (uPlot).

import * as api from "./api.js";
import { h, fill, ago, when, table, statusBadge } from "./dom.js";
import uPlot from "../vendor/uplot/uPlot.esm.js";

const fmt = (v, digits = 1) => (v === null || v === undefined ? "—" : Number(v).toFixed(digits));
const ms = (s) => (s === null || s === undefined ? "—" : (s * 1000).toFixed(s < 0.01 ? 2 : 0) + " ms");

function tile(label, value, note, attrs = {}) {
  return h("div", { class: "tile", ...attrs }, h("div", { class: "label" }, label), h("div", { class: "value" }, value),
    note ? h("div", { class: "note" }, note) : null);
}

export async function render(ctx) {
  const tiles = h("div", { class: "tiles", "aria-live": "polite" });
  const charts = h("div", { class: "charts" });
  const parts = h("section", { "aria-labelledby": "parts-h" });
  fill(ctx.main, h("h1", {}, "Overview"), tiles, charts, parts);
  const plots = {};
  let lastSeries = [];
  const onResize = () => { if (ctx.current()) drawCharts(plots, chartDefs, lastSeries); else removeEventListener("resize", onResize); };
  addEventListener("resize", onResize);
  const chartDefs = [
    ["tps", "Transactions per second", [["accepted", "#0b5cad"], ["applied", "#1a7f37"]]],
    ["lat", "Latency (ms)", [["p50", "#0b5cad"], ["p99", "#b42318"]]],
    ["lag", "Consumer lag (records, this instance)", [["lag", "#8a5a00"]]],
  ];
  for (const [id, title] of chartDefs) {
    charts.append(h("figure", { class: "chart", id: "chart-" + id, "aria-label": title }, h("figcaption", {}, title)));
  }
  ctx.live(async () => {
    const o = await api.get("console/overview");
    if (!ctx.current()) return;
    const lat = o.latency || {};
    let latNote = lat.metric === "invsync_scan_to_event_seconds" ? "scan to event, last minute"
      : "apply latency (" + (lat.metric || "no metric yet") + "); scan-to-event is not measured by this server";
    if (lat.p50Seconds == null) latNote = "no transactions in the last minute; " + latNote;
    const sc = (o.scanners && o.scanners.byStatus) || {};
    fill(tiles,
      tile("Transactions / s", fmt(o.transactionsPerSecond), "accepted uploads, last minute", { "data-metric": "tps" }),
      tile("Latency p50 / p99", ms(lat.p50Seconds) + " / " + ms(lat.p99Seconds), latNote),
      tile("Kafka", o.kafka && o.kafka.ready ? "reachable" : "not ready", (o.kafka && o.kafka.detail) || "brokers answer, partitions restored", { "data-kafka": o.kafka && o.kafka.ready ? "ready" : "not-ready" }),
      tile("Dead letters", fmt(o.deadLetters, 0), "records that could not be decoded"),
      tile("Last snapshot", o.lastSnapshotAt ? ago(o.lastSnapshotAt) : "not since start", o.lastSnapshotAt ? when(o.lastSnapshotAt) : "reconciliation snapshots seen by this instance"),
      tile("Instances", String((o.instances || []).length), (o.instances || []).join(", ")),
      h("div", { class: "tile", "data-scanners": "" }, h("div", { class: "label" }, "Scanners"),
        h("div", { class: "value" }, ["red", "yellow", "offline", "green"].map((s) =>
          h("a", { href: "#/scanners", class: "status " + s, "data-status-count": s, title: s }, `${sc[s] || 0} ${s}`)).reduce((a, x) => [...a, " ", x], [])),
        h("div", { class: "note" }, `${(o.scanners && o.scanners.queuedOnDevices) || 0} scans held on devices`)));
    const rows = (o.partitions || []).map((p) => h("tr", { "data-partition": p.partition },
      h("td", { class: "num" }, p.partition), h("td", {}, p.owner || "unknown"),
      h("td", { class: "num" }, p.lag === null || p.lag === undefined ? "—" : p.lag),
      h("td", {}, p.restoring ? h("span", { class: "status yellow", "data-restoring": "" }, `restoring (${p.restoreRemaining} left)`) : "serving")));
    fill(parts, h("h2", { id: "parts-h" }, "Partitions"), table("Partitions", ["Partition", "Owner", "Lag", "State"], rows, "No partitions known yet."));
    lastSeries = o.series || [];
    drawCharts(plots, chartDefs, lastSeries);
  }, 5000, ["overview"]);
}

function drawCharts(plots, defs, series) {
  const xs = series.map((p) => new Date(p.at).getTime() / 1000);
  const data = {
    tps: [xs, series.map((p) => p.transactionsPerSecond), series.map((p) => p.appliedPerSecond)],
    lat: [xs, series.map((p) => (p.p50Seconds == null ? null : p.p50Seconds * 1000)), series.map((p) => (p.p99Seconds == null ? null : p.p99Seconds * 1000))],
    lag: [xs, series.map((p) => p.lag)],
  };
  for (const [id, , lines] of defs) {
    const el = document.getElementById("chart-" + id);
    if (!el) return;
    const width = Math.max(280, el.clientWidth - 20);
    if (!plots[id]) {
      plots[id] = new uPlot({
        width, height: 170,
        series: [{}, ...lines.map(([label, stroke]) => ({ label, stroke, width: 2, spanGaps: true }))],
        axes: [{}, { size: 50 }],
        legend: { live: false },
      }, data[id], el);
    } else {
      if (Math.abs(plots[id].width - width) > 10) plots[id].setSize({ width, height: 170 });
      plots[id].setData(data[id]);
    }
  }
}

export { statusBadge };
