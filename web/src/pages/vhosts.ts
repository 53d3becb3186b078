// Vhosts (administrators only): every vhost with the users that have
// permissions in it and its queue count; add a vhost; delete one after a
// confirmation. Refused changes show the broker's reason.

import { api, type Permission } from "../api";
import { report } from "../actions";
import type { Mount, Page } from "../page";
import { isAdministrator, role } from "../rights";
import { adminOnly, confirmDialog, h, notice, num, table } from "../ui";

export const mountVhosts: Mount = (root) => {
  const nameIn = h("input", { name: "name", placeholder: "vhost name", required: true,
                              autocomplete: "off", "data-testid": "new-vhost-name" });
  const holder = h("div", {});
  const count = h("span", { class: "muted" });
  let page: Page;

  const add = h("form", { class: "inline-form", "data-testid": "add-vhost" },
    h("label", {}, "name ", nameIn),
    h("button", { type: "submit", class: "primary", "data-testid": "add-vhost-submit" },
      "Add vhost"));
  add.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = nameIn.value.trim();
    if (!name) return;
    try {
      await api.putVhost(name);
      notice(`Vhost ${name} is saved. Grant users permissions in it on the Users page.`);
      nameIn.value = "";
      await page.refresh();
    } catch (e) {
      report(e, `Adding vhost ${name}`);
    }
  });
  root.append(h("h1", {}, "Vhosts ", count),
              role() !== "" && !isAdministrator() ? adminOnly("vhosts")
                                                  : h("div", { class: "toolbar" }, add),
              h("p", { class: "muted small" }, "A STOMP client picks its vhost with the " +
                "CONNECT frame's host header; each vhost has its own destinations."),
              holder);

  const remove = async (name: string, perms: Permission[], queues: number) => {
    const ok = await confirmDialog("Delete vhost",
      `Delete vhost ${name}? The permissions of ${perms.length} user` +
      `${perms.length === 1 ? "" : "s"} in it are removed and clients connected to it are ` +
      `disconnected${queues ? ` (it has ${queues} queue${queues === 1 ? "" : "s"})` : ""}. ` +
      "This cannot be undone.", "Delete vhost");
    if (!ok) return;
    try {
      await api.deleteVhost(name);
      notice(`Deleted vhost ${name}.`);
    } catch (e) {
      report(e, `Deleting vhost ${name}`);
    }
    await page.refresh();
  };

  page = {
    async refresh() {
      const [vhosts, perms, queues] = await Promise.all([api.vhosts(), api.permissions(),
                                                         api.queues()]);
      vhosts.sort((a, b) => a.name.localeCompare(b.name));
      count.textContent = `(${vhosts.length})`;
      holder.replaceChildren(table("vhosts-table", [
        { label: "name" }, { label: "users with permissions" }, { label: "queues", num: true },
        { label: "" },
      ], vhosts.map((v) => {
        const ps = perms.filter((p) => p.vhost === v.name);
        const qs = queues.filter((q) => q.vhost === v.name).length;
        return h("tr", { "data-testid": "vhost-row", "data-vhost": v.name },
          h("td", {}, h("code", {}, v.name)),
          h("td", { "data-col": "users" }, ps.length ? ps.map((p) => p.user).sort().join(", ")
                                                     : h("span", { class: "muted" }, "none")),
          num(qs, { "data-col": "queues" }),
          h("td", { class: "actions" },
            h("button", { class: "danger", "data-testid": "delete-vhost",
                          onclick: () => remove(v.name, ps, qs) }, "Delete")));
      }), "No vhosts."));
    },
  };
  return page;
};
