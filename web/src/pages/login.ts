// Login: checks the user and password against GET /api/overview (HTTP Basic)
// and keeps them in sessionStorage for this tab only.

import { ApiError, request, setCredentials, type Overview } from "../api";
import type { Mount } from "../page";
import { h } from "../ui";

export const mountLogin: Mount = (root) => {
  const user = h("input", { name: "username", autocomplete: "username", required: true,
                            value: "guest", "data-testid": "login-user" });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password",
                            "data-testid": "login-password" });
  const error = h("p", { class: "error", "data-testid": "login-error", role: "alert" });
  const form = h("form", { class: "login", "data-testid": "login-form" },
    h("h1", {}, "Ferry console"),
    h("p", { class: "muted" }, "Sign in with a Ferry user. Until users are configured, " +
                               "guest / guest works from this machine (loopback) only."),
    h("label", {}, "User", user), h("label", {}, "Password", pass), error,
    h("button", { type: "submit", class: "primary", "data-testid": "login-submit" }, "Sign in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const bytes = new TextEncoder().encode(`${user.value}:${pass.value}`);
    let bin = "";
    bytes.forEach((b) => (bin += String.fromCharCode(b)));
    try {
      await request<Overview>("GET", "/api/overview", undefined, btoa(bin));
    } catch (e) {
      error.textContent = e instanceof ApiError
        ? (e.status === 401 ? "Wrong user or password. (The console also needs one of the " +
                              "tags monitoring, management or administrator.)"
                            : `${e.reason} (${e.code})`)
        : String(e);
      return;
    }
    setCredentials(user.value, pass.value);
    const back = sessionStorage.getItem("ferry.after-login");
    sessionStorage.removeItem("ferry.after-login");
    location.hash = back && back !== "#/login" ? back : "#/overview";
  });
  root.append(form);
  queueMicrotask(() => (user.value ? pass : user).focus());
  return { async refresh() {} };
};
