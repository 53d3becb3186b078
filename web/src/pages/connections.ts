// Connections: every client connection with its counters; close one (the
// client gets ERROR "closed by administrator") after confirmation. Below,
// every subscription (durable ones without a connection included, with the
// backlog waiting for them).

import { api, type Connection, type Subscription } from "../api";
import { report } from "../actions";
import type { Mount } from "../page";
import { confirmDialog, fmtRate, fmtTime, h, notice, num, table } from "../ui";

export const mountConnections: Mount = (root) => {
  const conns = h("div", {});
  const subs = h("div", {});
  const count = h("span", { class: "muted" });
  const subCount = h("span", { class: "muted" });
  root.append(h("h1", {}, "Connections ", count), conns,
              h("h2", {}, "Subscriptions ", subCount), subs);
  let page: { refresh(): Promise<void> };

  const close = async (c: Connection) => {
    const ok = await confirmDialog("Close connection",
      `Close connection ${c.id} from ${c.client_address} (user ${c.user || "–"})? ` +
      "The client receives ERROR \"closed by administrator\"; its unacknowledged " +
      "messages go back to their queues.", "Close connection");
    if (!ok) return;
    try {
      await api.closeConnection(c.id);
      notice(`Closed connection ${c.id} (${c.client_address}).`);
    } catch (e) {
      report(e, "Close");
    }
    await page.refresh();
  };

  const row = (c: Connection) =>
    h("tr", { "data-testid": "connection-row", "data-id": c.id, "data-client": c.client_address },
      h("td", {}, c.id), h("td", {}, c.client_address), h("td", {}, c.user),
      h("td", {}, c.vhost), h("td", {}, `${c.protocol} / ${c.transport}`),
      // "blocked": flow control holds it (producer window full, publishes
      // parked by the memory limit, or its output backed up).
      h("td", { "data-col": "state", class: c.state === "blocked" ? "warn" : "" }, c.state),
      h("td", {}, fmtTime(c.connected_at)),
      num(c.subscriptions, { "data-col": "subscriptions" }),
      num(c.unacked, { "data-col": "unacked" }),
      num(c.messages_in, { "data-col": "in" }), num(c.messages_out, { "data-col": "out" }),
      num(`${fmtRate(c.rates?.in)} / ${fmtRate(c.rates?.out)}`),
      h("td", { class: "actions" },
        h("button", { class: "danger needs-manage", "data-testid": "close", onclick: () => close(c) }, "Close")));

  const subRow = (s: Subscription) =>
    h("tr", { "data-testid": "subscription-row", "data-destination": s.destination },
      h("td", {}, s.connection ?? "(offline)"), h("td", {}, s.id), h("td", {}, s.destination),
      h("td", {}, s.ack), num(s.prefetch), num(s.unacked),
      num(s.ready === undefined ? "" : s.ready, { "data-col": "backlog" }),
      h("td", {}, s.durable ? `durable${s.name ? ` (${s.name})` : ""}` : ""));

  page = {
    async refresh() {
      const [cs, ss] = await Promise.all([api.connections(), api.subscriptions()]);
      cs.sort((a, b) => Number(a.id) - Number(b.id) || a.id.localeCompare(b.id));
      count.textContent = `(${cs.length})`;
      subCount.textContent = `(${ss.length})`;
      conns.replaceChildren(table("connections-table", [
        { label: "id" }, { label: "client" }, { label: "user" }, { label: "vhost" },
        { label: "protocol" }, { label: "state" }, { label: "connected since" }, { label: "subscriptions", num: true },
        { label: "unacked", num: true }, { label: "messages in", num: true },
        { label: "messages out", num: true }, { label: "rate in / out", num: true }, { label: "" },
      ], cs.map(row), "No client is connected."));
      subs.replaceChildren(table("subscriptions-table", [
        { label: "connection" }, { label: "id" }, { label: "destination" }, { label: "ack" },
        { label: "prefetch", num: true }, { label: "unacked", num: true },
        { label: "backlog (away)", num: true }, { label: "" },
      ], ss.map(subRow), "No subscriptions."));
    },
  };
  return page;
};
