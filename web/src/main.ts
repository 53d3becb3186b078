// The console's shell: header and navigation, hash routing (every page is
// served by index.html), and one poll loop every kPollMs that reads
// /api/overview (kept for the charts whatever the page) and then the page's
// own data. A poll starts only after the previous one finished.

import "uplot/dist/uPlot.min.css";
import "./style.css";
import { ApiError, api, clearCredentials, credentials, currentUser,
         setUnauthorizedHandler } from "./api";
import { kPollMs, setLatestOverview } from "./history";
import type { Mount, Page } from "./page";
import { mountConnections } from "./pages/connections";
import { mountExchanges } from "./pages/exchanges";
import { mountLogin } from "./pages/login";
import { mountMessages } from "./pages/messages";
import { mountOverview } from "./pages/overview";
import { mountPolicies } from "./pages/policies";
import { mountQueues } from "./pages/queues";
import { mountTopics } from "./pages/topics";
import { mountUsers } from "./pages/users";
import { mountVhosts } from "./pages/vhosts";
import { canManage, forgetRights, isAdministrator, loadRights, role, tags } from "./rights";
import { h, notice } from "./ui";

interface Route { nav: string; mount: Mount }

/** "#/queues/%2F/orders" -> queues page with params ["/", "orders"]. */
function resolve(hash: string): { route: Route; params: string[] } {
  const parts = hash.replace(/^#\/?/, "").split("/").filter((p) => p !== "");
  const params = parts.slice(1).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  switch (parts[0] ?? "overview") {
    case "login": return { route: { nav: "", mount: mountLogin }, params };
    case "queues":
      return params.length >= 2 ? { route: { nav: "queues", mount: mountMessages }, params }
                                : { route: { nav: "queues", mount: mountQueues }, params };
    case "topics": return { route: { nav: "topics", mount: mountTopics }, params };
    case "exchanges": return { route: { nav: "exchanges", mount: mountExchanges }, params };
    case "policies": return { route: { nav: "policies", mount: mountPolicies }, params };
    case "connections": return { route: { nav: "connections", mount: mountConnections }, params };
    case "users": return { route: { nav: "users", mount: mountUsers }, params };
    case "vhosts": return { route: { nav: "vhosts", mount: mountVhosts }, params };
    default: return { route: { nav: "overview", mount: mountOverview }, params };
  }
}

const nav = h("nav", {},
  ...([["overview", "Overview"], ["queues", "Queues"], ["topics", "Topics"], ["exchanges", "Exchanges"],
        ["policies", "Policies"], ["connections", "Connections"], ["users", "Users"], ["vhosts", "Vhosts"]] as const)
    .map(([k, label]) => h("a", { href: `#/${k}`, "data-nav": k, "data-testid": `nav-${k}` }, label)));
// Users and Vhosts: administrators only (shown once /api/whoami says so).
const adminNav = [...nav.querySelectorAll<HTMLAnchorElement>("a[data-nav=users], a[data-nav=vhosts]")];
for (const a of adminNav) a.hidden = true;
const who = h("span", { class: "who", "data-testid": "who" });
const logout = h("button", { class: "link", "data-testid": "logout", onclick: () => {
  clearCredentials();
  forgetRights();
  location.hash = "#/login";
} }, "Sign out");
const nodeInfo = h("span", { class: "node muted", "data-testid": "node" });
const header = h("header", {}, h("a", { class: "brand", href: "#/overview" }, "Ferry"), nav,
                 h("span", { class: "spacer" }), nodeInfo, who, logout);
const status = h("div", { id: "notice", class: "notice", role: "status", "data-testid": "notice" });
// Resource alarms (memory-limit, disk-limit reached), shown on every page
// while they last, as RabbitMQ's management UI flags a node's alarms.
const alarmBanner = h("div", { class: "alarm", role: "alert", "data-testid": "alarm" });
alarmBanner.hidden = true;
const main = h("main", { id: "page" });
document.getElementById("app")!.replaceChildren(header, alarmBanner, status, main);

const kAlarmText: Record<string, string> = {
  memory: "Memory alarm: memory-limit is reached; publishers are held back (or refused, with memory-policy = reject) until consumers catch up.",
  disk: "Disk alarm: disk-limit is reached; persistent messages are refused until the journal shrinks.",
};

function showAlarms(alarms: string[]): void {
  alarmBanner.hidden = alarms.length === 0;
  alarmBanner.setAttribute("data-alarms", alarms.join(","));
  alarmBanner.replaceChildren(...alarms.map((a) => h("div", {}, kAlarmText[a] ?? `Alarm: ${a}`)));
}

let page: Page | null = null;
let pageToken = 0;
let timer: number | undefined;
let lastPollError = "";

setUnauthorizedHandler(() => {
  clearCredentials();
  forgetRights();
  if (!location.hash.startsWith("#/login")) {
    sessionStorage.setItem("ferry.after-login", location.hash);
    location.hash = "#/login";
  }
});

function pollError(e: unknown): void {
  const text = e instanceof ApiError ? `${e.reason} (${e.code})` : String(e);
  if (text !== lastPollError) notice(`Could not refresh: ${text}`, "error");
  lastPollError = text;
}

async function poll(first: boolean): Promise<void> {
  const token = pageToken;
  try {
    const o = await api.overview();
    setLatestOverview(o);
    showAlarms(o.alarms ?? []);
    nodeInfo.textContent = `${o.node} · Ferry ${o.version}`;
    if (token !== pageToken || !page) return;
    await (first || !page.poll ? page.refresh() : page.poll());
    if (lastPollError) {
      notice("");
      lastPollError = "";
    }
  } catch (e) {
    if (token === pageToken && !(e instanceof ApiError && e.status === 401)) pollError(e);
  } finally {
    if (token === pageToken && page) {
      const el = document.getElementById("page");
      el?.setAttribute("data-polls", String(Number(el.getAttribute("data-polls") ?? 0) + 1));
      timer = window.setTimeout(() => void poll(false), kPollMs);
    }
  }
}

/** Shows the admin pages and the change buttons the user's tags allow. */
function applyRights(): void {
  for (const a of adminNav) a.hidden = !isAdministrator();
  document.body.setAttribute("data-rights", canManage() ? "manage" : "read-only");
  who.title = tags().length ? `tags: ${tags().join(", ")}` : "no tags";
  who.setAttribute("data-tags", tags().join(","));
  who.setAttribute("data-role", role());
}

async function route(): Promise<void> {
  const { route: r, params } = resolve(location.hash);
  if (r.mount !== mountLogin && !credentials()) {
    sessionStorage.setItem("ferry.after-login", location.hash || "#/overview");
    location.hash = "#/login";
    return;
  }
  const token = ++pageToken;
  window.clearTimeout(timer);
  page?.unmount?.();
  page = null;
  notice("");
  lastPollError = "";
  const loggedIn = r.mount !== mountLogin;
  if (loggedIn) {
    try {
      await loadRights();
    } catch {
      return; // 401: the handler went to the login page
    }
    if (token !== pageToken) return; // the user moved on meanwhile
    applyRights();
  }
  header.hidden = !loggedIn;
  who.textContent = loggedIn ? currentUser() : "";
  for (const a of nav.querySelectorAll("a")) {
    a.classList.toggle("active", a.getAttribute("data-nav") === r.nav);
  }
  main.replaceChildren();
  main.setAttribute("data-page", r.mount === mountMessages ? "messages" : (r.nav || "login"));
  main.setAttribute("data-polls", "0");
  const p = r.mount(main, params);
  if (!loggedIn) {
    void p.refresh();
    return;
  }
  page = p;
  void poll(true);
}

window.addEventListener("hashchange", () => void route());
void route();
