// Overview: live message rates (publish/deliver/ack/redeliver) and queued
// messages as uPlot charts over the last kMaxSamples polls, totals, memory
// and disk use against their limits, listeners.

import uPlot from "uplot";
import { api, type Overview } from "../api";
import { latestOverview, mergeOverviewHistory, overviewHistoryLoaded, overviewSeries } from "../history";
import type { Mount } from "../page";
import { fmtBytes, fmtDuration, fmtInt, fmtRate, h } from "../ui";

const kColors = { publish: "#2563eb", deliver: "#16a34a", ack: "#9333ea",
                  redeliver: "#dc2626", ready: "#0891b2", unacked: "#ea580c" };

function chart(title: string, testid: string, series: [keyof typeof kColors, string][],
               unit: (v: number) => string, integer = false) {
  const box = h("div", { class: "chart", "data-testid": testid, "data-points": 0 });
  const opts: uPlot.Options = {
    title,
    width: 600,
    height: 220,
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [
      { // whole seconds at least: polls are 2 s apart
        incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600],
        values: (_u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleTimeString("en-GB")) },
      { values: (_u, ticks) => ticks.map(unit), size: 70,
        // message counts: no fractional ticks
        incrs: integer ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4,
                          1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9] : undefined },
    ],
    series: [
      {},
      ...series.map(([k, label]) => ({
        label, stroke: kColors[k], width: 2, value: (_u: uPlot, v: number | null) =>
          v === null ? "–" : unit(v),
      })),
    ],
    legend: { live: true },
  };
  const plot = new uPlot(opts, [[], ...series.map(() => [])], box);
  const update = () => {
    const s = overviewSeries;
    plot.setData([s.t.slice(), ...series.map(([k]) => s[k].slice())]);
    box.setAttribute("data-points", String(s.t.length));
    box.setAttribute("data-first", s.t.length ? String(s.t[0]) : "");
    const last = s.t.length - 1;
    for (const [k] of series) {
      box.setAttribute(`data-last-${k}`, last >= 0 ? String(s[k][last]) : "");
      box.setAttribute(`data-max-${k}`, String(Math.max(0, ...s[k])));
    }
  };
  return { box, plot, update };
}

function meter(label: string, testid: string, used: number, limit: number,
               detail: string): HTMLElement {
  const pct = limit > 0 ? Math.min(100, (used / limit) * 100) : 0;
  return h("div", { class: "meter", "data-testid": testid },
    h("div", { class: "meter-label" }, h("span", {}, label),
      h("span", { class: "muted" }, limit > 0 ? `${fmtBytes(used)} of ${fmtBytes(limit)}`
                                               : `${fmtBytes(used)} (no limit)`)),
    h("div", { class: "meter-bar" },
      h("div", { class: pct > 90 ? "meter-fill high" : "meter-fill",
                 style: `width:${pct.toFixed(1)}%` })),
    h("div", { class: "muted small" }, detail));
}

function stat(label: string, value: string, testid: string): HTMLElement {
  return h("div", { class: "stat" }, h("div", { class: "stat-value", "data-testid": testid }, value),
           h("div", { class: "stat-label" }, label));
}

export const mountOverview: Mount = (root) => {
  const rates = chart("Message rates (msg/s)", "rates-chart",
    [["publish", "publish"], ["deliver", "deliver"], ["ack", "ack"], ["redeliver", "redeliver"]],
    (v) => (v >= 10 ? String(Math.round(v)) : v.toFixed(1)));
  const queued = chart("Queued messages", "queued-chart",
    [["ready", "ready"], ["unacked", "unacked"]], (v) => fmtInt(v), true);
  const counts = h("div", { class: "stats" });
  const totals = h("div", { class: "stats" });
  const resources = h("div", { class: "meters" });
  const about = h("div", { class: "about muted" });
  const charts = h("div", { class: "charts" }, rates.box, queued.box);
  root.append(
    h("h1", {}, "Overview"), about, counts,
    charts,
    h("h2", {}, "Totals since start"), totals,
    h("h2", {}, "Resources"), resources);

  // Two charts side by side on a wide window (the 1rem gap, each box's
  // padding and border subtracted), one per row otherwise.
  const resize = () => {
    const cw = charts.clientWidth;
    const per = cw > 1000 ? Math.floor((cw - 16) / 2) : cw;
    const w = Math.max(300, per - 16);
    rates.plot.setSize({ width: w, height: 220 });
    queued.plot.setSize({ width: w, height: 220 });
  };
  window.addEventListener("resize", resize);
  requestAnimationFrame(resize);

  const render = (o: Overview) => {
    about.replaceChildren(
      `Ferry ${o.version} on ${o.node}, up ${fmtDuration(o.uptime_ms)}, ${o.shards} shard${o.shards === 1 ? "" : "s"}. Listeners: `,
      ...o.listeners.flatMap((l, i) => [i ? ", " : "", h("code", {}, `${l.protocol} ${l.address}`)]));
    counts.replaceChildren(
      stat("connections", fmtInt(o.connections), "count-connections"),
      stat("consumers", fmtInt(o.consumers), "count-consumers"),
      stat("queues", fmtInt(o.queues), "count-queues"),
      stat("topics", fmtInt(o.topics), "count-topics"),
      stat("ready", fmtInt(o.messages.ready), "count-ready"),
      stat("unacked", fmtInt(o.messages.unacked), "count-unacked"),
      stat("publish", fmtRate(o.rates.publish), "rate-publish"),
      stat("deliver", fmtRate(o.rates.deliver), "rate-deliver"),
      stat("ack", fmtRate(o.rates.ack), "rate-ack"));
    totals.replaceChildren(
      stat("published", fmtInt(o.totals.publish), "total-publish"),
      stat("delivered", fmtInt(o.totals.deliver), "total-deliver"),
      stat("acked", fmtInt(o.totals.ack), "total-ack"),
      stat("redelivered", fmtInt(o.totals.redeliver), "total-redeliver"));
    resources.replaceChildren(
      meter("Memory (queued message bytes)", "memory", o.memory.queued_bytes, o.memory.limit_bytes,
            `process RSS ${fmtBytes(o.memory.rss_bytes)}`),
      meter("Disk (journal)", "disk", o.disk.journal_bytes, o.disk.limit_bytes,
            `${fmtBytes(o.disk.free_bytes)} free on the journal's file system`));
    rates.update();
    queued.update();
  };

  // The broker's last minutes, once per tab: the charts start full after a
  // reload instead of empty. A broker without history answers no samples.
  let history: Promise<void> | null = null;
  const loadHistory = () => {
    history ??= overviewHistoryLoaded() ? Promise.resolve()
      : api.overviewHistory().then(mergeOverviewHistory).catch(() => undefined);
    return history;
  };

  return {
    async refresh() {
      await loadHistory();
      if (latestOverview) render(latestOverview);
    },
    unmount() {
      window.removeEventListener("resize", resize);
      rates.plot.destroy();
      queued.plot.destroy();
    },
  };
};
