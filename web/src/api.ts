// The management HTTP API (docs/management-api.md): typed shapes and one
// fetch wrapper that adds HTTP Basic credentials from the session and turns
// error bodies ({"error","reason"}) into ApiError.

export interface Rates { publish: number; deliver: number; ack: number; redeliver: number }
export interface Overview {
  version: string;
  node: string;
  uptime_ms: number;
  shards: number;
  connections: number;
  consumers: number;
  queues: number;
  topics: number;
  messages: { ready: number; unacked: number; total: number };
  rates: Rates;
  totals: Rates;
  memory: { rss_bytes: number; queued_bytes: number; limit_bytes: number };
  disk: { journal_bytes: number; limit_bytes: number; free_bytes: number };
  listeners: { protocol: string; address: string }[];
  /** Resource alarms in effect: "memory", "disk" (as /api/health/checks/alarms). */
  alarms?: string[];
}
/** RabbitMQ's history of one figure (GET /api/overview?msg_rates_age=...): newest first. */
export interface Sample { timestamp: number; sample: number }
export interface Details { rate: number; samples?: Sample[] }
/** The parts of /api/overview that carry history. */
export interface OverviewHistory {
  message_stats: { publish_details: Details; deliver_get_details: Details; ack_details: Details;
                   redeliver_details: Details };
  queue_totals: { messages_ready_details: Details; messages_unacknowledged_details: Details };
}
/** GET /api/queues/V/NAME with the history ranges: the queue's last minute (5 s apart). */
export interface QueueHistory extends Queue {
  message_stats?: { publish_details?: Details; deliver_get_details?: Details; ack_details?: Details;
                    redeliver_details?: Details };
  messages_ready_details?: Details;
  messages_unacknowledged_details?: Details;
}
/** One policy (RabbitMQ's shape, GET /api/policies). */
export interface Policy {
  vhost: string;
  name: string;
  pattern: string;
  "apply-to": string;
  definition: Record<string, unknown>;
  priority: number;
}
export interface Connection {
  id: string;
  client_address: string;
  user: string;
  vhost: string;
  protocol: string;
  transport: string;
  state: "running" | "blocked";
  connected_at: number;
  subscriptions: number;
  unacked: number;
  messages_in: number;
  messages_out: number;
  rates: { in: number; out: number };
}
export interface Queue {
  vhost: string;
  name: string;
  destination: string;
  durable: boolean;
  depth: number;
  ready: number;
  unacked: number;
  consumers: number;
  enqueued: number;
  dequeued: number;
  acked: number;
  redelivered: number;
  expired: number;
  dead_lettered: number;
  rates: { in: number; out: number };
  /** The policy it follows (RabbitMQ's field), null for none. */
  policy?: string | null;
  consumer_details?: Consumer[];
}
/** One consumer of a queue (RabbitMQ's consumer_details, plus Ferry's ack / unacked). */
export interface Consumer {
  consumer_tag: string;
  channel_details: { connection_name?: string; peer_host?: string; peer_port?: number; user?: string | null };
  connection: string;
  ack_required: boolean;
  ack: string;
  prefetch_count: number;
  exclusive: boolean;
  active: boolean;
  unacked: number;
}
export interface Topic {
  vhost: string;
  name: string;
  destination: string;
  subscribers: number;
  durable_subscriptions: number;
  published: number;
  rates: { in: number };
}
export interface Subscription {
  connection: string | null;
  id: string;
  destination: string;
  ack: string;
  prefetch: number;
  unacked: number;
  durable: boolean;
  name?: string | null;
  /** A durable subscription whose client is away: the messages waiting for it. */
  ready?: number;
}
export interface BrowsedMessage {
  message_id: string;
  headers: Record<string, string>;
  body: string;
  body_encoding: "utf8" | "base64";
  size: number;
  redelivered: boolean;
  persistent: boolean;
  priority: number;
  timestamp: number;
}

/** role: the broker's reading of the tags ("administrator" > "management" > "monitoring"). */
export interface Whoami { name: string; tags: string[]; role?: string }
export interface User { name: string; tags: string[] }
export interface Vhost { name: string }
export interface Permission { user: string; vhost: string; configure: string; write: string; read: string }
export type Grant = Pick<Permission, "configure" | "write" | "read">;

/** A non-2xx answer: HTTP status plus the API's short code and reason. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, readonly reason: string) {
    super(`${code}: ${reason}`);
  }
}

const kAuthKey = "ferry.auth";

/** The session's "user:password" in base64, or null before login. */
export function credentials(): string | null {
  return sessionStorage.getItem(kAuthKey);
}
export function setCredentials(user: string, password: string): void {
  // btoa takes Latin-1; encode UTF-8 first so any user name works.
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let bin = "";
  bytes.forEach((b) => (bin += String.fromCharCode(b)));
  sessionStorage.setItem(kAuthKey, btoa(bin));
  sessionStorage.setItem("ferry.user", user);
}
export function clearCredentials(): void {
  sessionStorage.removeItem(kAuthKey);
  sessionStorage.removeItem("ferry.user");
}
export function currentUser(): string {
  return sessionStorage.getItem("ferry.user") ?? "";
}

/** Called on 401 so the app can show the login page. */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

/** Path segment as the API wants it: vhost "/" is "%2F". */
export function seg(s: string): string {
  return encodeURIComponent(s);
}

export async function request<T>(method: string, path: string, body?: unknown,
                                 auth: string | null = credentials()): Promise<T> {
  // credentials "omit" and X-Requested-With keep browsers from showing their
  // own Basic-auth prompt on a 401: the console has its sign-in page.
  const headers: Record<string, string> = {
    Accept: "application/json", "X-Requested-With": "XMLHttpRequest",
  };
  if (auth) headers.Authorization = `Basic ${auth}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (e) {
    throw new ApiError(0, "unreachable", `the broker did not answer (${String(e)})`);
  }
  const text = await res.text();
  if (!res.ok) {
    let code = `http_${res.status}`;
    let reason = res.statusText || text.slice(0, 200);
    try {
      const j = JSON.parse(text);
      if (typeof j.error === "string") code = j.error;
      if (typeof j.reason === "string") reason = j.reason;
    } catch {
      // not JSON: keep the status line
    }
    if (res.status === 401 && auth === credentials()) onUnauthorized();
    throw new ApiError(res.status, code, reason);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

export interface Exchange {
  vhost: string;
  name: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: Record<string, string>;
}
export interface Binding {
  vhost: string;
  source: string;
  destination: string;
  destination_type: "queue" | "exchange";
  routing_key: string;
  properties_key: string;
}

export const api = {
  overview: () => request<Overview>("GET", "/api/overview"),
  /** The broker's last ten minutes at 5 s, for the Overview charts. */
  overviewHistory: () => request<OverviewHistory>(
    "GET", "/api/overview?msg_rates_age=600&msg_rates_incr=5&lengths_age=600&lengths_incr=5"),
  /** RabbitMQ's publish through the default exchange: straight to queue `name`. */
  publish: (vhost: string, name: string, payload: string, headers: Record<string, string>,
            persistent: boolean) =>
    request<{ routed: boolean }>("POST", `/api/exchanges/${seg(vhost)}/amq.default/publish`, {
      routing_key: name, payload, payload_encoding: "string",
      properties: { delivery_mode: persistent ? 2 : 1, headers },
    }),
  connections: () => request<Connection[]>("GET", "/api/connections"),
  closeConnection: (id: string) => request<void>("DELETE", `/api/connections/${seg(id)}`),
  queues: () => request<Queue[]>("GET", "/api/queues"),
  queue: (vhost: string, name: string) =>
    request<Queue>("GET", `/api/queues/${seg(vhost)}/${seg(name)}`),
  /** The queue and its last minute of history (one sample every 5 s, kept by the broker). */
  queueHistory: (vhost: string, name: string) =>
    request<QueueHistory>("GET", `/api/queues/${seg(vhost)}/${seg(name)}` +
                                 "?msg_rates_age=60&msg_rates_incr=5&lengths_age=60&lengths_incr=5"),
  createQueue: (vhost: string, name: string) =>
    request<void>("PUT", `/api/queues/${seg(vhost)}/${seg(name)}`, {}),
  deleteQueue: (vhost: string, name: string) =>
    request<void>("DELETE", `/api/queues/${seg(vhost)}/${seg(name)}`),
  purgeQueue: (vhost: string, name: string) =>
    request<{ purged: number }>("DELETE", `/api/queues/${seg(vhost)}/${seg(name)}/contents`),
  moveMessages: (vhost: string, name: string, to: string, count?: number) =>
    request<{ moved: number }>("POST", `/api/queues/${seg(vhost)}/${seg(name)}/move`,
                               count === undefined ? { to } : { to, count }),
  browse: (vhost: string, name: string, count: number) =>
    request<BrowsedMessage[]>(
      "GET", `/api/queues/${seg(vhost)}/${seg(name)}/messages?count=${count}`),
  topics: () => request<Topic[]>("GET", "/api/topics"),
  exchanges: () => request<Exchange[]>("GET", "/api/exchanges"),
  putExchange: (vhost: string, name: string, type: string, durable: boolean) =>
    request<void>("PUT", `/api/exchanges/${seg(vhost)}/${seg(name)}`, { type, durable }),
  deleteExchange: (vhost: string, name: string) =>
    request<void>("DELETE", `/api/exchanges/${seg(vhost)}/${seg(name)}`),
  bindings: () => request<Binding[]>("GET", "/api/bindings"),
  bind: (vhost: string, source: string, queue: string, routingKey: string) =>
    request<void>("POST", `/api/bindings/${seg(vhost)}/e/${seg(source)}/q/${seg(queue)}`,
                  { routing_key: routingKey }),
  unbind: (b: Binding) =>
    request<void>("DELETE", `/api/bindings/${seg(b.vhost)}/e/${seg(b.source || "amq.default")}/` +
                            `${b.destination_type === "queue" ? "q" : "e"}/${seg(b.destination)}/` +
                            `${seg(b.properties_key)}`),
  subscriptions: () => request<Subscription[]>("GET", "/api/subscriptions"),
  policies: () => request<Policy[]>("GET", "/api/policies"),
  /** Creates (201) or replaces (204) a policy. */
  putPolicy: (p: Policy) =>
    request<void>("PUT", `/api/policies/${seg(p.vhost)}/${seg(p.name)}`, {
      pattern: p.pattern, definition: p.definition, priority: p.priority, "apply-to": p["apply-to"],
    }),
  deletePolicy: (vhost: string, name: string) =>
    request<void>("DELETE", `/api/policies/${seg(vhost)}/${seg(name)}`),
  whoami: () => request<Whoami>("GET", "/api/whoami"),
  users: () => request<User[]>("GET", "/api/users"),
  /** Creates (201) or updates (204) a user; without password an update keeps it. */
  putUser: (name: string, tags: string[], password?: string) =>
    request<void>("PUT", `/api/users/${seg(name)}`,
                  password === undefined ? { tags } : { password, tags }),
  deleteUser: (name: string) => request<void>("DELETE", `/api/users/${seg(name)}`),
  vhosts: () => request<Vhost[]>("GET", "/api/vhosts"),
  putVhost: (name: string) => request<void>("PUT", `/api/vhosts/${seg(name)}`, {}),
  deleteVhost: (name: string) => request<void>("DELETE", `/api/vhosts/${seg(name)}`),
  permissions: () => request<Permission[]>("GET", "/api/permissions"),
  putPermission: (vhost: string, user: string, g: Grant) =>
    request<void>("PUT", `/api/permissions/${seg(vhost)}/${seg(user)}`, g),
  deletePermission: (vhost: string, user: string) =>
    request<void>("DELETE", `/api/permissions/${seg(vhost)}/${seg(user)}`),
};
