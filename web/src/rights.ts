// What the signed-in user may do, from GET /api/whoami (read once per
// sign-in): its `role`, or else the strongest of its tags. `administrator`
// sees and changes users, vhosts and permissions; `management` (and
// RabbitMQ's `policymaker`) and `administrator` may purge / move / delete /
// create destinations and close connections; `monitoring` only reads. The broker enforces all of this; the console only hides what would
// be refused. A broker without /api/whoami (older, 404/501) leaves the
// queue actions shown and the admin pages hidden.

import { ApiError, api, credentials, type Whoami } from "./api";

let loadedFor: string | null = null;
let me: Whoami | null = null;

/** Reads /api/whoami unless already read for the current credentials. */
export async function loadRights(): Promise<void> {
  const auth = credentials();
  if (auth !== null && auth === loadedFor) return;
  try {
    me = await api.whoami();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw e;
    me = null; // unknown: the broker will answer for itself
  }
  loadedFor = auth;
}

/** Forgets the user (sign-out, 401). */
export function forgetRights(): void {
  loadedFor = null;
  me = null;
}

export function tags(): string[] {
  return me?.tags ?? [];
}

/** "administrator", "management", "monitoring" or "" (unknown). */
export function role(): string {
  if (me === null) return "";
  if (me.role) return me.role;
  const t = tags();
  if (t.includes("administrator")) return "administrator";
  if (t.includes("management") || t.includes("policymaker")) return "management";
  return t.includes("monitoring") ? "monitoring" : "";
}

export function isAdministrator(): boolean {
  return role() === "administrator";
}

/** Purge, move, delete, create destinations, close connections. */
export function canManage(): boolean {
  return me === null || role() === "administrator" || role() === "management";
}
