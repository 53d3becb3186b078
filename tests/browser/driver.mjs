// Remote control of one headless Chromium page for the console tests
// (tests/integration/console_ui.py is the other end). Reads one JSON
// command per line on stdin, answers one JSON line on stdout:
//   {"id": 1, "op": "goto", "url": "..."}  ->  {"id": 1, "ok": true, "value": ...}
// and {"id": 1, "ok": false, "error": "..."} when the step failed. The page's
// console errors and uncaught exceptions are kept for the "errors" op.
//
// Ops: goto(url) | hash(hash) | click(sel) | fill(sel, value) | select(sel, value) | text(sel) |
//      texts(sel) | attr(sel, name) | count(sel) | visible(sel) |
//      wait(sel, state?) | screenshot(path) | errors() | close()
// Selectors are Playwright selectors (CSS, or text=...). Every op that
// needs an element waits for it up to `timeout` ms (default 10 s).
//
// Environment: FERRY_CHROMIUM (default /usr/bin/chromium).
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const executablePath = process.env.FERRY_CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({
  executablePath,
  headless: true,
  // A container has no user namespaces for Chromium's sandbox; /dev/shm is small.
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
const problems = [];
page.on("console", (m) => {
  if (m.type() === "error") problems.push(`console: ${m.text()}`);
});
page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
// The console must not reach the network beyond the broker (no CDN).
page.on("request", (r) => {
  const u = new URL(r.url());
  if (!["127.0.0.1", "localhost"].includes(u.hostname) && u.protocol !== "data:") {
    problems.push(`external request: ${r.url()}`);
  }
});

const ops = {
  goto: async (c) => { await page.goto(c.url, { waitUntil: "load" }); },
  hash: async (c) => {
    await page.evaluate((h) => { location.hash = h; }, c.hash);
  },
  click: async (c, t) => { await page.locator(c.sel).first().click({ timeout: t }); },
  fill: async (c, t) => { await page.locator(c.sel).first().fill(String(c.value), { timeout: t }); },
  select: async (c, t) => {
    await page.locator(c.sel).first().selectOption(String(c.value), { timeout: t });
  },
  text: async (c, t) => (await page.locator(c.sel).first().textContent({ timeout: t })).trim(),
  texts: async (c) => (await page.locator(c.sel).allTextContents()).map((s) => s.trim()),
  attr: async (c, t) => page.locator(c.sel).first().getAttribute(c.name, { timeout: t }),
  count: async (c) => page.locator(c.sel).count(),
  visible: async (c) => page.locator(c.sel).first().isVisible(),
  wait: async (c, t) => {
    await page.locator(c.sel).first().waitFor({ state: c.state || "visible", timeout: t });
  },
  screenshot: async (c) => { await page.screenshot({ path: c.path, fullPage: true }); },
  errors: async () => problems.slice(),
};

const rl = createInterface({ input: process.stdin });
const reply = (o) => process.stdout.write(JSON.stringify(o) + "\n");
reply({ id: 0, ok: true, value: { ready: true, chromium: browser.version() } });
for await (const line of rl) {
  if (!line.trim()) continue;
  let c;
  try {
    c = JSON.parse(line);
  } catch (e) {
    reply({ id: null, ok: false, error: `bad command line: ${e.message}` });
    continue;
  }
  if (c.op === "close") break;
  const f = ops[c.op];
  if (!f) {
    reply({ id: c.id, ok: false, error: `unknown op ${c.op}` });
    continue;
  }
  try {
    const value = await f(c, c.timeout ?? 10000);
    reply({ id: c.id, ok: true, value: value ?? null });
  } catch (e) {
    reply({ id: c.id, ok: false, error: String(e.message || e).split("\n").slice(0, 6).join("\n") });
  }
}
await browser.close();
reply({ id: "closed", ok: true });
// The line reader keeps stdin (and so the process) alive: end both.
rl.close();
process.exit(0);
