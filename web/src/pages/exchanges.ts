// Exchanges (RabbitMQ's model, docs/dialects.md): every exchange with its
// type and flags, and every binding; declare an exchange, bind a queue to
// one, delete either after a confirmation (management users). Refused
// changes show the broker's reason (an inequivalent redeclare names the
// difference).

import { api, type Binding, type Exchange } from "../api";
import { report } from "../actions";
import type { Mount, Page } from "../page";
import { canManage } from "../rights";
import { confirmDialog, h, notice, num, table } from "../ui";

const shown = (name: string) => (name === "" ? "(default)" : name);

export const mountExchanges: Mount = (root) => {
  const vhostIn = h("input", { name: "vhost", value: "/", required: true, size: 8,
                               "data-testid": "exchange-vhost" });
  const nameIn = h("input", { name: "name", placeholder: "exchange name", required: true,
                              autocomplete: "off", "data-testid": "exchange-name" });
  const typeIn = h("select", { name: "type", "data-testid": "exchange-type" },
    ...["direct", "fanout", "topic", "headers"].map((t) => h("option", { value: t }, t)));
  const durableIn = h("input", { type: "checkbox", checked: true, "data-testid": "exchange-durable" });
  const sourceIn = h("input", { name: "source", placeholder: "exchange", required: true,
                                "data-testid": "binding-source" });
  const queueIn = h("input", { name: "queue", placeholder: "queue", required: true,
                               "data-testid": "binding-queue" });
  const keyIn = h("input", { name: "key", placeholder: "routing key / pattern",
                             "data-testid": "binding-key" });
  const exchangesHolder = h("div", {});
  const bindingsHolder = h("div", {});
  const count = h("span", { class: "muted" });
  const bindingCount = h("span", { class: "muted" });
  let page: Page;

  const declare = h("form", { class: "inline-form", "data-testid": "declare-exchange" },
    h("label", {}, "vhost ", vhostIn), h("label", {}, "name ", nameIn), h("label", {}, "type ", typeIn),
    h("label", {}, durableIn, " durable"),
    h("button", { type: "submit", class: "primary needs-manage", "data-testid": "declare-exchange-submit" },
      "Declare exchange"));
  declare.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const vhost = vhostIn.value.trim(), name = nameIn.value.trim();
    if (!vhost || !name) return;
    try {
      await api.putExchange(vhost, name, typeIn.value, durableIn.checked);
      notice(`Exchange ${name} (${typeIn.value}) is declared in vhost ${vhost}.`);
      nameIn.value = "";
      await page.refresh();
    } catch (e) {
      report(e, `Declaring exchange ${name}`);
    }
  });
  const bind = h("form", { class: "inline-form", "data-testid": "add-binding" },
    h("label", {}, "from ", sourceIn), h("label", {}, "to queue ", queueIn), h("label", {}, "key ", keyIn),
    h("button", { type: "submit", class: "primary needs-manage", "data-testid": "add-binding-submit" },
      "Bind"));
  bind.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const vhost = vhostIn.value.trim(), source = sourceIn.value.trim(), queue = queueIn.value.trim();
    if (!vhost || !source || !queue) return;
    try {
      await api.bind(vhost, source, queue, keyIn.value);
      notice(`Queue ${queue} is bound to ${source} with key "${keyIn.value}".`);
      await page.refresh();
    } catch (e) {
      report(e, `Binding ${queue} to ${source}`);
    }
  });
  root.append(h("h1", {}, "Exchanges ", count),
              canManage() ? h("div", { class: "toolbar" }, declare) : h("div", {}),
              exchangesHolder,
              h("h2", {}, "Bindings ", bindingCount),
              canManage() ? h("div", { class: "toolbar" }, bind) : h("div", {}),
              bindingsHolder);

  const removeExchange = async (x: Exchange, bindings: number) => {
    const ok = await confirmDialog("Delete exchange",
      `Delete exchange ${x.name} in vhost ${x.vhost}? Its ${bindings} binding` +
      `${bindings === 1 ? "" : "s"} go with it; the queues stay.`, "Delete exchange");
    if (!ok) return;
    try {
      await api.deleteExchange(x.vhost, x.name);
      notice(`Deleted exchange ${x.name}.`);
    } catch (e) {
      report(e, `Deleting exchange ${x.name}`);
    }
    await page.refresh();
  };
  const removeBinding = async (b: Binding) => {
    const ok = await confirmDialog("Delete binding",
      `Unbind ${b.destination} from ${shown(b.source)} (key "${b.routing_key}")?`, "Delete binding");
    if (!ok) return;
    try {
      await api.unbind(b);
      notice(`Unbound ${b.destination} from ${shown(b.source)}.`);
    } catch (e) {
      report(e, "Unbinding");
    }
    await page.refresh();
  };

  page = {
    async refresh() {
      const [exchanges, bindings] = await Promise.all([api.exchanges(), api.bindings()]);
      exchanges.sort((a, b) => a.vhost.localeCompare(b.vhost) || a.name.localeCompare(b.name));
      count.textContent = `(${exchanges.length})`;
      bindingCount.textContent = `(${bindings.length})`;
      const predeclared = (x: Exchange) => x.name === "" || x.name.startsWith("amq.");
      exchangesHolder.replaceChildren(table("exchanges-table", [
        { label: "vhost" }, { label: "name" }, { label: "type" }, { label: "features" },
        { label: "bindings", num: true }, { label: "" },
      ], exchanges.map((x) => {
        const n = bindings.filter((b) => b.vhost === x.vhost && b.source === x.name).length;
        const features = [x.durable ? "durable" : "transient", x.auto_delete ? "auto-delete" : "",
                          x.internal ? "internal" : ""].filter((f) => f).join(", ");
        return h("tr", { "data-testid": "exchange-row", "data-vhost": x.vhost, "data-exchange": x.name },
          h("td", {}, x.vhost), h("td", {}, h("code", {}, shown(x.name))),
          h("td", { "data-col": "type" }, x.type), h("td", { "data-col": "features" }, features),
          num(n, { "data-col": "bindings" }),
          h("td", { class: "actions" }, predeclared(x) ? "" :
            h("button", { class: "danger needs-manage", "data-testid": "delete-exchange",
                          onclick: () => removeExchange(x, n) }, "Delete")));
      }), "No exchanges."));
      bindingsHolder.replaceChildren(table("bindings-table", [
        { label: "vhost" }, { label: "from" }, { label: "to" }, { label: "routing key" }, { label: "" },
      ], bindings.map((b) =>
        h("tr", { "data-testid": "binding-row", "data-source": b.source, "data-destination": b.destination },
          h("td", {}, b.vhost), h("td", {}, h("code", {}, shown(b.source))),
          h("td", { "data-col": "destination" }, `${b.destination_type} ${b.destination}`),
          h("td", { "data-col": "key" }, h("code", {}, b.routing_key)),
          h("td", { class: "actions" },
            h("button", { class: "danger needs-manage", "data-testid": "delete-binding",
                          onclick: () => removeBinding(b) }, "Unbind")))),
        "No bindings."));
    },
  };
  return page;
};
