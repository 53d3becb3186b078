// Message browser for one queue (#/queues/{vhost}/{name}): the first N ready
// messages, read without consuming them (GET .../messages?count=N), with
// headers and body; the queue's counters, its last minute of rates and
// lengths as the broker keeps them (so a reloaded page shows them at once),
// its consumers (consumer_details) and its purge / move / delete; a form
// that publishes to it through the default exchange (hidden from
// read-only users).

import { api, ApiError, type BrowsedMessage, type Consumer, type Queue, type QueueHistory } from "../api";
import { move, purge, remove, report } from "../actions";
import { ratesOf, valuesOf } from "../history";
import type { Mount, Page } from "../page";
import { lineChart } from "../svg_chart";
import { fmtBytes, fmtInt, fmtTime, h, num, table } from "../ui";

const kMaxBrowse = 1000;
const kBodyPreview = 4096; // characters shown before "show all"

function body(m: BrowsedMessage): HTMLElement {
  const text = m.body ?? "";
  const pre = h("pre", { class: "body", "data-testid": "message-body",
                         "data-encoding": m.body_encoding }, text.slice(0, kBodyPreview));
  const parts: (HTMLElement | string)[] = [pre];
  if (m.body_encoding === "base64") {
    parts.unshift(h("div", { class: "muted small" }, "binary body, shown as base64"));
  }
  if (text.length > kBodyPreview) {
    const more = h("button", { class: "link" }, `show all ${fmtInt(text.length)} characters`);
    more.addEventListener("click", () => {
      pre.textContent = text;
      more.remove();
    });
    parts.push(more);
  }
  return h("td", { class: "body-cell" }, ...parts);
}

function headers(m: BrowsedMessage): HTMLElement {
  const entries = Object.entries(m.headers ?? {});
  return h("td", {}, h("details", {},
    h("summary", {}, `${entries.length} header${entries.length === 1 ? "" : "s"}`),
    h("dl", { class: "headers" }, ...entries.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))));
}

function consumerRows(cs: Consumer[]): HTMLTableElement {
  return table("consumers-table", [
    { label: "connection" }, { label: "subscription" }, { label: "ack" },
    { label: "prefetch", num: true }, { label: "unacked", num: true }, { label: "state" },
  ], cs.map((c) => h("tr", { "data-testid": "consumer-row", "data-tag": c.consumer_tag },
    h("td", { "data-col": "connection" },
      h("a", { href: "#/connections" }, c.channel_details.connection_name ?? `connection ${c.connection}`),
      c.channel_details.user ? h("span", { class: "muted small" }, ` (${c.channel_details.user})`) : null),
    h("td", { "data-col": "tag" }, h("code", {}, c.consumer_tag)),
    h("td", { "data-col": "ack" }, c.ack),
    num(c.prefetch_count, { "data-col": "prefetch" }),
    num(c.unacked, { "data-col": "unacked" }),
    h("td", { "data-col": "state" },
      [c.active ? "active" : "standing by", c.exclusive ? "exclusive" : ""].filter(Boolean).join(", ")))),
    "No consumers.");
}

/** Body, header rows and the persistent flag; publishes to the queue through amq.default. */
function publishForm(vhost: string, name: string, published: () => Promise<void>): HTMLElement {
  const bodyIn = h("textarea", { rows: 4, cols: 60, "data-testid": "publish-body",
                                 placeholder: "message body" });
  const rows = h("div", { class: "header-rows" });
  const addRow = () => rows.append(h("div", { class: "inline-form header-row" },
    h("input", { placeholder: "header", "data-testid": "publish-header-key" }),
    h("input", { placeholder: "value", "data-testid": "publish-header-value" })));
  addRow();
  const persistent = h("input", { type: "checkbox", checked: true, "data-testid": "publish-persistent" });
  const result = h("span", { class: "muted", "data-testid": "publish-result" });
  const form = h("form", { class: "publish-form", "data-testid": "publish-form" },
    h("label", { class: "block" }, "Body", bodyIn),
    h("div", { class: "muted small" }, "Headers"), rows,
    h("div", { class: "inline-form" },
      h("button", { type: "button", class: "link", "data-testid": "publish-add-header",
                    onclick: () => addRow() }, "+ header"),
      h("label", {}, persistent, "persistent"),
      h("button", { type: "submit", class: "primary", "data-testid": "publish-submit" }, "Publish"),
      result));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const headers: Record<string, string> = {};
    for (const r of rows.querySelectorAll(".header-row")) {
      const [k, v] = [...r.querySelectorAll("input")].map((i) => i.value);
      if (k.trim() !== "") headers[k.trim()] = v;
    }
    try {
      const r = await api.publish(vhost, name, bodyIn.value, headers, persistent.checked);
      result.textContent = r.routed ? `Published: routed to ${name}.`
                                    : "Not routed: the queue does not exist.";
      result.setAttribute("data-routed", String(r.routed));
      await published();
    } catch (e) {
      result.textContent = "";
      report(e, "Publish");
    }
  });
  return h("details", { class: "needs-manage publish", "data-testid": "publish" },
    h("summary", {}, "Publish a message"), form);
}

const kColors = { publish: "#2563eb", deliver: "#16a34a", ack: "#9333ea", redeliver: "#dc2626",
                  ready: "#0891b2", unacked: "#ea580c" };
const rateText = (v: number) => (v >= 10 ? String(Math.round(v)) : v.toFixed(1));

/** The queue's history (newest-first samples) as the two charts' points, oldest first. */
function drawHistory(q: QueueHistory, rates: ReturnType<typeof lineChart>,
                     lengths: ReturnType<typeof lineChart>): void {
  const m = q.message_stats ?? {};
  const r = {
    publish: ratesOf(m.publish_details?.samples), deliver: ratesOf(m.deliver_get_details?.samples),
    ack: ratesOf(m.ack_details?.samples), redeliver: ratesOf(m.redeliver_details?.samples),
  };
  const rt = [...r.publish.keys()].sort((a, b) => a - b);
  rates.update(rt.map((t) => t / 1000), (["publish", "deliver", "ack", "redeliver"] as const).map((k) => ({
    key: k, label: k, color: kColors[k], values: rt.map((t) => r[k].get(t) ?? 0),
  })));
  const ready = valuesOf(q.messages_ready_details?.samples);
  const unacked = valuesOf(q.messages_unacknowledged_details?.samples);
  const lt = [...ready.keys()].sort((a, b) => a - b);
  lengths.update(lt.map((t) => t / 1000), [
    { key: "ready", label: "ready", color: kColors.ready, values: lt.map((t) => ready.get(t) ?? 0) },
    { key: "unacked", label: "unacked", color: kColors.unacked, values: lt.map((t) => unacked.get(t) ?? 0) },
  ]);
}

export const mountMessages: Mount = (root, params) => {
  const vhost = params[0] ?? "/";
  const name = params[1] ?? "";
  let queue: Queue | null = null;
  const countIn = h("input", { type: "number", min: 1, max: kMaxBrowse, value: 20,
                               "data-testid": "browse-count" });
  const summary = h("div", { class: "stats" });
  const consumers = h("div", {});
  const list = h("div", {});
  const rateChart = lineChart("Message rates (msg/s)", "queue-rates-chart", rateText);
  const lengthChart = lineChart("Queued messages", "queue-lengths-chart", (v) => fmtInt(v));
  const charts = h("div", { class: "mini-charts", "data-testid": "queue-history" },
                   rateChart.box, lengthChart.box);
  const title = h("h1", {}, "Queue ", h("code", {}, name), vhost === "/" ? "" : ` (vhost ${vhost})`);
  let page: Page;
  const act = async (f: (v: string, n: string, x: number) => Promise<boolean>, x: () => number) => {
    if (await f(vhost, name, x())) await page.refresh();
  };
  const get = h("form", { class: "inline-form" },
    h("label", {}, "Show the first ", countIn, " messages"),
    h("button", { type: "submit", class: "primary", "data-testid": "browse-get" }, "Get messages"));
  get.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void page.refresh();
  });
  root.append(
    h("p", {}, h("a", { href: "#/queues" }, "← Queues")), title, summary,
    h("div", { class: "toolbar" }, get,
      h("span", { class: "spacer" }),
      h("button", { class: "needs-manage", "data-testid": "purge", onclick: () => act(purge, () => queue?.ready ?? 0) }, "Purge"),
      h("button", { class: "needs-manage", "data-testid": "move", onclick: () => act(move, () => queue?.ready ?? 0) }, "Move"),
      h("button", { class: "danger needs-manage", "data-testid": "delete",
                    onclick: async () => {
                      if (await remove(vhost, name, queue?.depth ?? 0)) location.hash = "#/queues";
                    } }, "Delete")),
    h("h2", {}, "Last minute"), charts,
    h("h2", {}, "Consumers"), consumers,
    publishForm(vhost, name, () => page.refresh()),
    h("h2", {}, "Messages"),
    h("p", { class: "muted small" },
      "Browsing does not consume: messages stay in the queue, in order, and are not marked redelivered."),
    list);

  const loadQueue = async (): Promise<boolean> => {
    try {
      const withHistory = await api.queueHistory(vhost, name);
      queue = withHistory;
      drawHistory(withHistory, rateChart, lengthChart);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        queue = null;
        summary.replaceChildren(h("p", { class: "muted", "data-testid": "no-queue" },
                                  "This queue does not exist (any more)."));
        list.replaceChildren();
        consumers.replaceChildren();
        return false;
      }
      throw e;
    }
    const q = queue;
    summary.replaceChildren(...([
      ["depth", q.depth], ["ready", q.ready], ["unacked", q.unacked],
      ["consumers", q.consumers], ["enqueued", q.enqueued], ["acked", q.acked],
      ["redelivered", q.redelivered], ["expired", q.expired],
      ["dead-lettered", q.dead_lettered],
    ] as [string, number][]).map(([k, v]) =>
      h("div", { class: "stat" }, h("div", { class: "stat-value", "data-testid": `queue-${k}` },
                                    fmtInt(v)), h("div", { class: "stat-label" }, k))));
    consumers.replaceChildren(consumerRows(q.consumer_details ?? []));
    return true;
  };

  page = {
    // The message list is only re-read on demand (Get messages, after an
    // action) so that open header lists and the reader's place survive polls.
    async poll() {
      await loadQueue();
    },
    async refresh() {
      let n = Math.floor(Number(countIn.value));
      if (!Number.isFinite(n) || n < 1) n = 20;
      n = Math.min(n, kMaxBrowse);
      if (!(await loadQueue())) return;
      const msgs = await api.browse(vhost, name, n);
      list.replaceChildren(table("messages-table", [
        { label: "#", num: true }, { label: "message-id" }, { label: "body" }, { label: "headers" },
        { label: "size", num: true }, { label: "flags" }, { label: "timestamp" },
      ], msgs.map((m, i) => h("tr", { "data-testid": "message-row", "data-id": m.message_id },
        num(i + 1), h("td", {}, h("code", {}, m.message_id)), body(m), headers(m),
        num(fmtBytes(m.size)),
        h("td", {}, [m.persistent ? "persistent" : "", m.redelivered ? "redelivered" : "",
                     m.priority ? `priority ${m.priority}` : ""].filter(Boolean).join(", ")),
        h("td", {}, fmtTime(m.timestamp)))), "No ready messages."));
    },
  };
  return page;
};
