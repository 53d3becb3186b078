// Topics: subscribers, durable subscriptions, published count and rate.

import { api, type Topic } from "../api";
import type { Mount } from "../page";
import { fmtRate, h, num, table } from "../ui";

export const mountTopics: Mount = (root) => {
  const holder = h("div", {});
  const count = h("span", { class: "muted" });
  root.append(h("h1", {}, "Topics ", count), holder);
  const row = (t: Topic) =>
    h("tr", { "data-testid": "topic-row", "data-topic": t.name, "data-vhost": t.vhost },
      h("td", {}, t.vhost), h("td", {}, t.name),
      num(t.subscribers, { "data-col": "subscribers" }),
      num(t.durable_subscriptions, { "data-col": "durable" }),
      num(t.published, { "data-col": "published" }),
      num(fmtRate(t.rates?.in), { "data-col": "rate-in" }));
  return {
    async refresh() {
      const topics = await api.topics();
      topics.sort((a, b) => a.vhost.localeCompare(b.vhost) || a.name.localeCompare(b.name));
      count.textContent = `(${topics.length})`;
      holder.replaceChildren(table("topics-table", [
        { label: "vhost" }, { label: "name" }, { label: "subscribers", num: true },
        { label: "durable subscriptions", num: true }, { label: "published", num: true },
        { label: "in", num: true },
      ], topics.map(row), "No topics yet."));
    },
  };
};
