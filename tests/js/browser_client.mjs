// @stomp/stompjs in a real page of headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core): loads the stompjs UMD
// bundle into a blank page, connects to a ws:// URL, subscribes, publishes
// `send` messages and waits for `expect` messages. Usage:
//   node browser_client.mjs '{"url":"ws://127.0.0.1:PORT/ws","dest":"/queue/x","send":["a"],"expect":2}'
// Prints {"event":"subscribed"} once subscribed (a RECEIPT came), then one
// JSON line {"event":"done","messages":[...],"protocol":...} or
// {"event":"error",...}; exit code 0 when all expected messages came.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
// The UMD bundle is not in the package's "exports": read it by path.
const here = dirname(fileURLToPath(import.meta.url));
const bundle = readFileSync(join(here, 'node_modules/@stomp/stompjs/bundles/stomp.umd.min.js'), 'utf8');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless=new'],
});
let rc = 1;
try {
  const page = await browser.newPage();
  page.on('console', (m) => process.stderr.write('page: ' + m.text() + '\n'));
  await page.exposeFunction('report', (o) => out(o));
  await page.setContent('<!doctype html><title>ferry</title><body>stompjs</body>');
  await page.addScriptTag({ content: bundle });
  const result = await page.evaluate(async (cfg) => {
    return await new Promise((resolve) => {
      const got = [];
      let protocol = null;
      const timer = setTimeout(() => resolve({ event: 'error', what: 'timeout', messages: got }),
                               cfg.timeout_ms ?? 15000);
      const client = new StompJs.Client({ brokerURL: cfg.url, reconnectDelay: 0, connectHeaders: { host: '/' } });
      client.onConnect = (frame) => {
        protocol = client.webSocket?.protocol ?? null;
        client.subscribe(cfg.dest, (m) => {
          got.push({ body: m.body, headers: m.headers, binary: m.isBinaryBody });
          if (got.length >= (cfg.expect ?? 0)) {
            clearTimeout(timer);
            client.deactivate().then(() => resolve({ event: 'done', messages: got, protocol,
                                                     version: frame.headers.version }));
          }
        }, { receipt: 'sub' });
        client.watchForReceipt('sub', () => {
          window.report({ event: 'subscribed' });
          for (const body of cfg.send ?? []) client.publish({ destination: cfg.dest, body });
        });
      };
      client.onStompError = (f) => { clearTimeout(timer); resolve({ event: 'error', what: 'stomp', message: f.headers.message }); };
      client.onWebSocketError = () => { clearTimeout(timer); resolve({ event: 'error', what: 'websocket' }); };
      client.activate();
    });
  }, cfg);
  out(result);
  rc = result.event === 'done' ? 0 : 1;
} finally {
  await browser.close();
}
process.exit(rc);
