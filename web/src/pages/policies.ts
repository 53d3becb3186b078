// Policies (RabbitMQ's, docs/management.md "Policies"): every policy with
// its pattern, what it applies to, its definition and priority, and the
// queues that follow it now (/api/queues' `policy`); set one (a new name
// adds, an existing name replaces) and delete one after a confirmation
// (management users). Refused changes show the broker's reason (an unknown
// key, a bad pattern, max-policies).

import { api, type Policy } from "../api";
import { report } from "../actions";
import type { Mount, Page } from "../page";
import { canManage } from "../rights";
import { confirmDialog, h, notice, num, table } from "../ui";

export const mountPolicies: Mount = (root) => {
  const vhostIn = h("input", { name: "vhost", value: "/", required: true, size: 8,
                               "data-testid": "policy-vhost" });
  const nameIn = h("input", { name: "name", placeholder: "policy name", required: true,
                              autocomplete: "off", "data-testid": "policy-name" });
  const patternIn = h("input", { name: "pattern", placeholder: "^orders\\.", required: true,
                                 autocomplete: "off", "data-testid": "policy-pattern" });
  const applyIn = h("select", { name: "apply-to", "data-testid": "policy-apply-to" },
    ...["queues", "exchanges", "all"].map((t) => h("option", { value: t }, t)));
  const priorityIn = h("input", { name: "priority", type: "number", value: 0, size: 4,
                                  "data-testid": "policy-priority" });
  const definitionIn = h("textarea", { name: "definition", rows: 3, cols: 50, required: true,
                                       placeholder: '{"max-length": 10000, "overflow": "reject-publish"}',
                                       "data-testid": "policy-definition" });
  const holder = h("div", {});
  const count = h("span", { class: "muted" });
  let page: Page;

  const form = h("form", { class: "policy-form", "data-testid": "set-policy" },
    h("div", { class: "inline-form" },
      h("label", {}, "vhost ", vhostIn), h("label", {}, "name ", nameIn),
      h("label", {}, "pattern ", patternIn), h("label", {}, "apply to ", applyIn),
      h("label", {}, "priority ", priorityIn)),
    h("label", { class: "block" }, "Definition (JSON: max-length, max-length-bytes, overflow, " +
      "message-ttl, expires, dead-letter-exchange, dead-letter-routing-key, delivery-limit, " +
      "alternate-exchange)", definitionIn),
    h("button", { type: "submit", class: "primary needs-manage", "data-testid": "set-policy-submit" },
      "Set policy"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const vhost = vhostIn.value.trim(), name = nameIn.value.trim();
    if (!vhost || !name) return;
    let definition: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(definitionIn.value);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
      definition = parsed as Record<string, unknown>;
    } catch {
      notice('The definition must be a JSON object, e.g. {"max-length": 1000}.', "error");
      return;
    }
    try {
      await api.putPolicy({ vhost, name, pattern: patternIn.value, "apply-to": applyIn.value,
                            priority: Math.trunc(Number(priorityIn.value) || 0), definition });
      notice(`Policy ${name} is set in vhost ${vhost}; matching queues follow it now.`);
      nameIn.value = "";
      await page.refresh();
    } catch (e) {
      report(e, `Setting policy ${name}`);
    }
  });
  root.append(h("h1", {}, "Policies ", count),
              canManage() ? h("div", { class: "toolbar" }, form) : h("div", {}),
              h("p", { class: "muted small" }, "A queue follows the matching policy of the highest " +
                "priority; where both set a limit, the lower of the queue's argument and the policy's applies."),
              holder);

  const remove = async (p: Policy, following: number) => {
    const ok = await confirmDialog("Delete policy",
      `Delete policy ${p.name} in vhost ${p.vhost}? ${following} queue${following === 1 ? "" : "s"} ` +
      "follow it now; they keep their own arguments.", "Delete policy");
    if (!ok) return;
    try {
      await api.deletePolicy(p.vhost, p.name);
      notice(`Deleted policy ${p.name}.`);
    } catch (e) {
      report(e, `Deleting policy ${p.name}`);
    }
    await page.refresh();
  };

  page = {
    async refresh() {
      const [policies, queues] = await Promise.all([api.policies(), api.queues()]);
      policies.sort((a, b) => a.vhost.localeCompare(b.vhost) || a.name.localeCompare(b.name));
      count.textContent = `(${policies.length})`;
      holder.replaceChildren(table("policies-table", [
        { label: "vhost" }, { label: "name" }, { label: "pattern" }, { label: "apply to" },
        { label: "definition" }, { label: "priority", num: true }, { label: "queues", num: true },
        { label: "" },
      ], policies.map((p) => {
        const following = queues.filter((q) => q.vhost === p.vhost && q.policy === p.name).length;
        return h("tr", { "data-testid": "policy-row", "data-vhost": p.vhost, "data-policy": p.name },
          h("td", {}, p.vhost), h("td", {}, h("code", {}, p.name)),
          h("td", { "data-col": "pattern" }, h("code", {}, p.pattern)),
          h("td", { "data-col": "apply-to" }, p["apply-to"]),
          h("td", { "data-col": "definition" }, h("code", {}, JSON.stringify(p.definition))),
          num(p.priority, { "data-col": "priority" }),
          num(following, { "data-col": "queues" }),
          h("td", { class: "actions" },
            h("button", { class: "danger needs-manage", "data-testid": "delete-policy",
                          onclick: () => remove(p, following) }, "Delete")));
      }), "No policies."));
    },
  };
  return page;
};
