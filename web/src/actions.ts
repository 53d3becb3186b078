// Queue actions behind a confirmation dialog, shared by the Queues page and
// the message browser. Each resolves to true when something changed; errors
// and results go to the notice line.

import { api, ApiError } from "./api";
import { confirmDialog, fmtInt, notice } from "./ui";

function report(e: unknown, what: string): false {
  if (e instanceof ApiError) notice(`${what} failed: ${e.reason} (${e.code})`, "error");
  else notice(`${what} failed: ${String(e)}`, "error");
  return false;
}

export function label(vhost: string, name: string): string {
  return vhost === "/" ? name : `${name} (vhost ${vhost})`;
}

export async function purge(vhost: string, name: string, ready: number): Promise<boolean> {
  const ok = await confirmDialog("Purge queue",
    `Delete the ${fmtInt(ready)} ready message${ready === 1 ? "" : "s"} of ${label(vhost, name)}? ` +
    "Unacknowledged messages stay with their consumers. This cannot be undone.", "Purge");
  if (!ok) return false;
  try {
    const r = await api.purgeQueue(vhost, name);
    notice(`Purged ${fmtInt(r.purged)} message${r.purged === 1 ? "" : "s"} from ${label(vhost, name)}.`);
    return true;
  } catch (e) {
    return report(e, "Purge");
  }
}

export async function remove(vhost: string, name: string, depth: number): Promise<boolean> {
  const ok = await confirmDialog("Delete queue",
    `Delete ${label(vhost, name)} and its ${fmtInt(depth)} message${depth === 1 ? "" : "s"}? ` +
    "Its consumers lose their subscription. This cannot be undone.", "Delete");
  if (!ok) return false;
  try {
    await api.deleteQueue(vhost, name);
    notice(`Deleted ${label(vhost, name)}.`);
    return true;
  } catch (e) {
    return report(e, "Delete");
  }
}

/** Dead-letter queues are "DLQ.<name>": suggest moving back to <name>. */
export function suggestedTarget(name: string): string {
  return name.startsWith("DLQ.") ? name.slice(4) : "";
}

export async function move(vhost: string, name: string, ready: number): Promise<boolean> {
  const values = await confirmDialog("Move messages",
    `Move ready messages of ${label(vhost, name)} (${fmtInt(ready)} ready) to another queue ` +
    `in vhost ${vhost}. They leave this queue.`, "Move",
    [{ name: "to", label: "Target queue", value: suggestedTarget(name), required: true,
       placeholder: "orders" },
     { name: "count", label: "How many (empty: all)", type: "number", placeholder: "all" }],
    false);
  if (!values) return false;
  const to = values.to.replace(/^\/queue\//, "");
  let count: number | undefined;
  if (values.count !== "") {
    count = Number(values.count);
    if (!Number.isInteger(count) || count < 1) {
      notice("Move: the count must be a whole number of at least 1.", "error");
      return false;
    }
  }
  try {
    const r = await api.moveMessages(vhost, name, to, count);
    notice(`Moved ${fmtInt(r.moved)} message${r.moved === 1 ? "" : "s"} from ${name} to ${to}.`);
    return true;
  } catch (e) {
    return report(e, "Move");
  }
}

export { report };
