// Queues: every queue with its depth, rates and a depth sparkline over the
// last polls; create a queue; purge / move / delete with confirmation.

import { api, type Queue } from "../api";
import { move, purge, remove, report } from "../actions";
import { depthHistory, recordQueues } from "../history";
import type { Mount } from "../page";
import { fmtRate, h, notice, num, sparkline, table } from "../ui";

export function browseHref(vhost: string, name: string): string {
  return `#/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`;
}

export const mountQueues: Mount = (root) => {
  const filter = h("input", { type: "search", placeholder: "filter by name",
                              "data-testid": "queue-filter" });
  const vhostIn = h("input", { name: "vhost", value: "/", size: 6, "data-testid": "create-vhost" });
  const nameIn = h("input", { name: "name", placeholder: "queue name", required: true,
                              "data-testid": "create-name" });
  const holder = h("div", {});
  const count = h("span", { class: "muted" });
  let page: { refresh(): Promise<void> };

  const create = h("form", { class: "inline-form needs-manage", "data-testid": "create-queue" },
    h("label", {}, "vhost ", vhostIn), h("label", {}, "name ", nameIn),
    h("button", { type: "submit", class: "primary" }, "Create queue"));
  create.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = nameIn.value.trim().replace(/^\/queue\//, "");
    const vhost = vhostIn.value.trim() || "/";
    if (!name) return;
    try {
      await api.createQueue(vhost, name);
      notice(`Queue ${name} is ready.`);
      nameIn.value = "";
      await page.refresh();
    } catch (e) {
      report(e, "Create");
    }
  });
  filter.addEventListener("input", () => void page.refresh());
  root.append(h("h1", {}, "Queues ", count),
              h("div", { class: "toolbar" }, filter, create), holder);

  const row = (q: Queue) => {
    const act = async (f: (v: string, n: string, x: number) => Promise<boolean>, x: number) => {
      if (await f(q.vhost, q.name, x)) await page.refresh();
    };
    return h("tr", { "data-testid": "queue-row", "data-queue": q.name, "data-vhost": q.vhost },
      h("td", {}, q.vhost),
      h("td", {}, h("a", { href: browseHref(q.vhost, q.name), "data-testid": "queue-link" }, q.name),
        q.durable ? h("span", { class: "tag", title: "durable" }, "D") : null),
      num(q.depth, { "data-col": "depth" }),
      num(q.ready, { "data-col": "ready" }),
      num(q.unacked, { "data-col": "unacked" }),
      num(q.consumers, { "data-col": "consumers" }),
      num(fmtRate(q.rates?.in), { "data-col": "rate-in" }),
      num(fmtRate(q.rates?.out), { "data-col": "rate-out" }),
      h("td", { class: "spark", "data-col": "sparkline" }, sparkline(depthHistory(q.vhost, q.name))),
      h("td", { class: "actions" },
        h("a", { class: "button", href: browseHref(q.vhost, q.name) }, "Browse"),
        h("button", { class: "needs-manage", "data-testid": "purge", onclick: () => act(purge, q.ready) }, "Purge"),
        h("button", { class: "needs-manage", "data-testid": "move", onclick: () => act(move, q.ready) }, "Move"),
        h("button", { class: "danger needs-manage", "data-testid": "delete",
                      onclick: () => act(remove, q.depth) }, "Delete")));
  };

  page = {
    async refresh() {
      const queues = await api.queues();
      recordQueues(queues);
      const f = filter.value.trim().toLowerCase();
      const shown = queues
        .filter((q) => !f || q.name.toLowerCase().includes(f))
        .sort((a, b) => a.vhost.localeCompare(b.vhost) || a.name.localeCompare(b.name));
      count.textContent = f ? `(${shown.length} of ${queues.length})` : `(${queues.length})`;
      holder.replaceChildren(table("queues-table", [
        { label: "vhost" }, { label: "name" }, { label: "depth", num: true },
        { label: "ready", num: true }, { label: "unacked", num: true },
        { label: "consumers", num: true }, { label: "in", num: true }, { label: "out", num: true },
        { label: "depth, last minute" }, { label: "" },
      ], shown.map(row), f ? "No queue matches the filter." : "No queues yet."));
    },
  };
  return page;
};
