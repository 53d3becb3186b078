// Users (administrators only): every user with its tags and its permissions
// per vhost (configure / write / read regular expressions). Add a user;
// edit a user's tags or password; set, edit or clear a permission; delete a
// user (the broker also closes its connections) — each change after a
// dialog. The broker's reason is shown for any refused change (403 without
// the administrator tag, 400 bad name or regex, 409 without --users-file).

import { api, currentUser, setCredentials, type Permission, type User } from "../api";
import { report } from "../actions";
import type { Mount, Page } from "../page";
import { isAdministrator, role } from "../rights";
import { adminOnly, confirmDialog, h, notice, table } from "../ui";

/** "administrator, monitoring" -> ["administrator", "monitoring"]. */
export function parseTags(text: string): string[] {
  return text.split(",").map((t) => t.trim()).filter((t) => t !== "");
}

const kTagHint = "comma-separated: administrator (everything), management (also purge, " +
                 "move, delete, close), monitoring (read only)";
const kRegexHint = "a regular expression over destination names like /queue/orders; " +
                   "empty: nothing";

function grantFields(p?: Pick<Permission, "configure" | "write" | "read">) {
  return [
    { name: "configure", label: "Configure (create / delete destinations)",
      value: p?.configure ?? ".*", trim: false, hint: kRegexHint },
    { name: "write", label: "Write (SEND)", value: p?.write ?? ".*", trim: false },
    { name: "read", label: "Read (SUBSCRIBE)", value: p?.read ?? ".*", trim: false },
  ];
}

export const mountUsers: Mount = (root) => {
  const nameIn = h("input", { name: "name", placeholder: "user name", required: true,
                              autocomplete: "off", "data-testid": "new-user-name" });
  const passIn = h("input", { name: "password", type: "password", placeholder: "password",
                              required: true, autocomplete: "new-password",
                              "data-testid": "new-user-password" });
  const tagsIn = h("input", { name: "tags", placeholder: "tags, e.g. monitoring", size: 24,
                              title: kTagHint, "data-testid": "new-user-tags" });
  const holder = h("div", {});
  const count = h("span", { class: "muted" });
  let vhosts: string[] = [];
  let page: Page;

  const add = h("form", { class: "inline-form", "data-testid": "add-user" },
    h("label", {}, "name ", nameIn), h("label", {}, "password ", passIn),
    h("label", {}, "tags ", tagsIn),
    h("button", { type: "submit", class: "primary", "data-testid": "add-user-submit" },
      "Add user"));
  add.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = nameIn.value.trim();
    if (!name) return;
    try {
      await api.putUser(name, parseTags(tagsIn.value), passIn.value);
      notice(`User ${name} is saved. Give it permissions in a vhost before it can connect.`);
      nameIn.value = "";
      passIn.value = "";
      tagsIn.value = "";
      await page.refresh();
    } catch (e) {
      report(e, `Adding user ${name}`);
    }
  });
  root.append(h("h1", {}, "Users ", count),
              role() !== "" && !isAdministrator() ? adminOnly("users and permissions")
                                                  : h("div", { class: "toolbar" }, add),
              h("p", { class: "muted small" }, `Tags: ${kTagHint}. Users, passwords and ` +
                "permissions are saved to the broker's users file (--users-file)."),
              holder);

  const edit = async (u: User) => {
    const v = await confirmDialog(`Edit user ${u.name}`,
      "Change the tags, and the password if you type a new one (empty keeps it).", "Save",
      [{ name: "tags", label: "Tags", value: u.tags.join(", "), hint: kTagHint },
       { name: "password", label: "New password", type: "password", trim: false,
         placeholder: "unchanged" }], false);
    if (!v) return;
    try {
      await api.putUser(u.name, parseTags(v.tags), v.password === "" ? undefined : v.password);
      // Our own new password: keep this session signed in.
      if (v.password !== "" && u.name === currentUser()) setCredentials(u.name, v.password);
      notice(`User ${u.name} is updated.`);
    } catch (e) {
      report(e, `Updating user ${u.name}`);
    }
    await page.refresh();
  };

  const remove = async (u: User) => {
    const self = u.name === currentUser() ? " You are signed in as this user." : "";
    const ok = await confirmDialog("Delete user",
      `Delete user ${u.name} and all its permissions? Its open connections are closed ` +
      `and it can no longer sign in.${self} This cannot be undone.`, "Delete user");
    if (!ok) return;
    try {
      await api.deleteUser(u.name);
      notice(`Deleted user ${u.name}.`);
    } catch (e) {
      report(e, `Deleting user ${u.name}`);
    }
    await page.refresh();
  };

  const setPermission = async (user: string) => {
    if (vhosts.length === 0) {
      notice("There is no vhost to grant permissions in: add one on the Vhosts page.", "error");
      return;
    }
    const v = await confirmDialog(`Set permissions of ${user}`,
      "What the user may do in a vhost. Replaces the user's permissions in that vhost.", "Set",
      [{ name: "vhost", label: "Vhost", options: vhosts, value: vhosts[0] },
       ...grantFields()], false);
    if (!v) return;
    await savePermission(user, v.vhost, v);
  };

  const editPermission = async (p: Permission) => {
    const v = await confirmDialog(`Permissions of ${p.user} in vhost ${p.vhost}`,
      "What the user may do in this vhost.", "Save", grantFields(p), false);
    if (!v) return;
    await savePermission(p.user, p.vhost, v);
  };

  const savePermission = async (user: string, vhost: string, v: Record<string, string>) => {
    try {
      await api.putPermission(vhost, user, { configure: v.configure, write: v.write, read: v.read });
      notice(`Permissions of ${user} in vhost ${vhost} are set.`);
    } catch (e) {
      report(e, `Setting permissions of ${user} in vhost ${vhost}`);
    }
    await page.refresh();
  };

  const clearPermission = async (p: Permission) => {
    const ok = await confirmDialog("Clear permissions",
      `Remove every permission of ${p.user} in vhost ${p.vhost}? The user can no longer ` +
      "connect to that vhost.", "Clear");
    if (!ok) return;
    try {
      await api.deletePermission(p.vhost, p.user);
      notice(`Cleared the permissions of ${p.user} in vhost ${p.vhost}.`);
    } catch (e) {
      report(e, `Clearing permissions of ${p.user} in vhost ${p.vhost}`);
    }
    await page.refresh();
  };

  const permLine = (p: Permission) =>
    h("div", { class: "perm", "data-testid": "perm", "data-vhost": p.vhost },
      h("span", { class: "perm-vhost" }, p.vhost),
      h("span", { class: "perm-re" }, "configure ", h("code", { "data-col": "configure" }, p.configure)),
      h("span", { class: "perm-re" }, "write ", h("code", { "data-col": "write" }, p.write)),
      h("span", { class: "perm-re" }, "read ", h("code", { "data-col": "read" }, p.read)),
      h("button", { class: "link", "data-testid": "edit-permission",
                    onclick: () => editPermission(p) }, "edit"),
      h("button", { class: "link danger", "data-testid": "clear-permission",
                    onclick: () => clearPermission(p) }, "clear"));

  const row = (u: User, perms: Permission[]) =>
    h("tr", { "data-testid": "user-row", "data-user": u.name },
      h("td", {}, u.name, u.name === currentUser() ? h("span", { class: "muted" }, " (you)") : null),
      h("td", { "data-col": "tags", "data-tags": u.tags.join(",") },
        ...u.tags.map((t) => h("span", { class: "tag" }, t))),
      h("td", { "data-col": "permissions" },
        ...(perms.length ? perms.map(permLine)
                         : [h("span", { class: "muted" }, "none: cannot connect")])),
      h("td", { class: "actions" },
        h("button", { "data-testid": "edit-user", onclick: () => edit(u) }, "Edit"),
        h("button", { "data-testid": "set-permissions", onclick: () => setPermission(u.name) },
          "Set permissions"),
        h("button", { class: "danger", "data-testid": "delete-user", onclick: () => remove(u) },
          "Delete")));

  page = {
    async refresh() {
      const [users, perms, vs] = await Promise.all([api.users(), api.permissions(), api.vhosts()]);
      vhosts = vs.map((v) => v.name).sort();
      users.sort((a, b) => a.name.localeCompare(b.name));
      perms.sort((a, b) => a.vhost.localeCompare(b.vhost));
      count.textContent = `(${users.length})`;
      holder.replaceChildren(table("users-table", [
        { label: "name" }, { label: "tags" }, { label: "permissions per vhost" }, { label: "" },
      ], users.map((u) => row(u, perms.filter((p) => p.user === u.name))), "No users."));
    },
  };
  return page;
};
