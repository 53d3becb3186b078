// What the console remembers between polls (in memory, per browser tab):
// overview samples for the rate charts and each queue's recent depths for
// the sparklines. Bounded: kMaxSamples points per series, kMaxQueues queues.

import type { Overview, OverviewHistory, Queue, Sample } from "./api";

export const kPollMs = 2000;
export const kMaxSamples = 450; // the broker's 10 minutes of history (at 5 s) and 5 minutes of polls
export const kSparkPoints = 30; // one minute of depth per queue
const kMaxQueues = 5000;

export interface OverviewSeries {
  t: number[]; // seconds since the epoch
  publish: number[];
  deliver: number[];
  ack: number[];
  redeliver: number[];
  ready: number[];
  unacked: number[];
}

export const overviewSeries: OverviewSeries = {
  t: [], publish: [], deliver: [], ack: [], redeliver: [], ready: [], unacked: [],
};

export function recordOverview(o: Overview, nowMs = Date.now()): void {
  const s = overviewSeries;
  s.t.push(nowMs / 1000);
  s.publish.push(o.rates?.publish ?? 0);
  s.deliver.push(o.rates?.deliver ?? 0);
  s.ack.push(o.rates?.ack ?? 0);
  s.redeliver.push(o.rates?.redeliver ?? 0);
  s.ready.push(o.messages?.ready ?? 0);
  s.unacked.push(o.messages?.unacked ?? 0);
  if (s.t.length > kMaxSamples) {
    for (const arr of Object.values(s)) arr.splice(0, arr.length - kMaxSamples);
  }
}

let historyLoaded = false;

/** Whether the broker's history was merged in already (once per tab). */
export function overviewHistoryLoaded(): boolean {
  return historyLoaded;
}

/** Oldest first: per-second rates between consecutive cumulative samples. */
export function ratesOf(samples: Sample[] | undefined): Map<number, number> {
  const out = new Map<number, number>();
  const s = [...(samples ?? [])].reverse();
  for (let i = 1; i < s.length; i++) {
    const dt = (s[i].timestamp - s[i - 1].timestamp) / 1000;
    if (dt > 0) out.set(s[i].timestamp, Math.max(0, (s[i].sample - s[i - 1].sample) / dt));
  }
  return out;
}

export function valuesOf(samples: Sample[] | undefined): Map<number, number> {
  return new Map((samples ?? []).map((x) => [x.timestamp, x.sample]));
}

/**
 * Puts the broker's history (GET /api/overview?msg_rates_age=...) in front
 * of what this tab polled itself, so that a reloaded console shows the last
 * minutes at once. Only moments older than the first poll are added.
 */
export function mergeOverviewHistory(hist: OverviewHistory): void {
  historyLoaded = true;
  const m = hist.message_stats;
  const q = hist.queue_totals;
  const publish = ratesOf(m.publish_details.samples);
  const deliver = ratesOf(m.deliver_get_details.samples);
  const ack = ratesOf(m.ack_details.samples);
  const redeliver = ratesOf(m.redeliver_details.samples);
  const ready = valuesOf(q.messages_ready_details.samples);
  const unacked = valuesOf(q.messages_unacknowledged_details.samples);
  const s = overviewSeries;
  const first = s.t.length ? s.t[0] * 1000 : Infinity;
  const stamps = [...publish.keys()].filter((t) => t < first).sort((a, b) => a - b);
  if (stamps.length === 0) return;
  s.t.unshift(...stamps.map((t) => t / 1000));
  s.publish.unshift(...stamps.map((t) => publish.get(t) ?? 0));
  s.deliver.unshift(...stamps.map((t) => deliver.get(t) ?? 0));
  s.ack.unshift(...stamps.map((t) => ack.get(t) ?? 0));
  s.redeliver.unshift(...stamps.map((t) => redeliver.get(t) ?? 0));
  s.ready.unshift(...stamps.map((t) => ready.get(t) ?? 0));
  s.unacked.unshift(...stamps.map((t) => unacked.get(t) ?? 0));
  if (s.t.length > kMaxSamples) {
    for (const arr of Object.values(s)) arr.splice(0, arr.length - kMaxSamples);
  }
}

const depths = new Map<string, number[]>();

function key(vhost: string, name: string): string {
  return `${vhost}\u0000${name}`;
}

/** Records one poll of every queue; queues that disappeared lose their history. */
export function recordQueues(queues: Queue[]): void {
  const seen = new Set<string>();
  for (const q of queues) {
    const k = key(q.vhost, q.name);
    seen.add(k);
    let d = depths.get(k);
    if (!d) {
      if (depths.size >= kMaxQueues) continue;
      d = [];
      depths.set(k, d);
    }
    d.push(q.depth);
    if (d.length > kSparkPoints) d.splice(0, d.length - kSparkPoints);
  }
  for (const k of [...depths.keys()]) if (!seen.has(k)) depths.delete(k);
}

export function depthHistory(vhost: string, name: string): number[] {
  return depths.get(key(vhost, name)) ?? [];
}

/** The last /api/overview answer (main.ts polls it on every page). */
export let latestOverview: Overview | null = null;
export function setLatestOverview(o: Overview): void {
  latestOverview = o;
  recordOverview(o);
}
