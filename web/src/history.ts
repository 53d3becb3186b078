// What the console remembers between polls (in memory, per browser tab):
// overview samples for the rate charts and each queue's recent depths for
// the sparklines. Bounded: kMaxSamples points per series, kMaxQueues queues.

import type { Overview, Queue } from "./api";

export const kPollMs = 2000;
export const kMaxSamples = 150; // 5 minutes at one poll every 2 s
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
