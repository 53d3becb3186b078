// A scripted @stomp/stompjs client over WebSocket (ws:// or wss://) for
// Ferry's integration tests. Usage: node stomp_client.mjs '<json>' with
//   url           ws://127.0.0.1:PORT/ws (or wss://...)
//   ca            PEM file of the CA to trust for wss:// (optional)
//   insecure      true: do not verify the server certificate (wss://)
//   subscribe     destination to subscribe to (optional)
//   expect        messages to wait for on it (default 0)
//   send          [{destination, body, headers}] sent after subscribing
//   binary        true: send bodies as binary (body is base64)
//   timeout_ms    give up after this long (default 10000)
//   heartbeat     heart-beat ms asked for both ways (default 10000)
// Prints one JSON line per event: {"event":"connected",...},
// {"event":"subscribed"} (after the subscription's receipt),
// {"event":"message","body":...,"headers":...}, {"event":"ws-message"} and
// {"event":"frame"} (each WebSocket message, each frame), {"event":"done"} or
// {"event":"error",...}; exits 0 when everything expected happened.
import { readFileSync } from 'node:fs';
import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';

const cfg = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const timeout = setTimeout(() => {
  out({ event: 'error', what: 'timeout' });
  process.exit(2);
}, cfg.timeout_ms ?? 10000);

const wsOptions = {};
if (cfg.ca) wsOptions.ca = readFileSync(cfg.ca);
if (cfg.insecure) wsOptions.rejectUnauthorized = false;

let received = 0;
const expect = cfg.expect ?? 0;
let sent = false;

const client = new Client({
  webSocketFactory: () => {
    const ws = new WebSocket(cfg.url, client.stompVersions.protocolVersions(), wsOptions);
    ws.on('upgrade', (res) => out({ event: 'upgrade', protocol: res.headers['sec-websocket-protocol'] ?? '' }));
    return ws;
  },
  connectHeaders: cfg.connectHeaders ?? {},
  reconnectDelay: 0,
  heartbeatIncoming: cfg.heartbeat ?? 10000,
  heartbeatOutgoing: cfg.heartbeat ?? 10000,
  // What arrives, as stompjs counts it: each WebSocket message ("Received
  // data") and each frame parsed out of them ("<<< COMMAND..."; its parser
  // reports any EOL between frames as "<<< PONG"). Issue 17.2: one message
  // per frame, the frame's EOL included.
  debug: (text) => {
    if (text === 'Received data') out({ event: 'ws-message' });
    else if (text.startsWith('<<< ') && text !== '<<< PONG') out({ event: 'frame' });
  },
});

function finishIfDone() {
  if (sent && received >= expect) {
    out({ event: 'done' });
    clearTimeout(timeout);
    client.deactivate().then(() => process.exit(0));
  }
}

function sendAll() {
  for (const m of cfg.send ?? []) {
    const params = { destination: m.destination, headers: m.headers ?? {} };
    if (cfg.binary) params.binaryBody = new Uint8Array(Buffer.from(m.body, 'base64'));
    else params.body = m.body;
    client.publish(params);
  }
  if ((cfg.send ?? []).length > 0) {
    // A receipt on a last frame tells us every SEND was taken.
    const receipt = 'sent-' + Date.now();
    client.watchForReceipt(receipt, () => {
      out({ event: 'sent', count: cfg.send.length });
      sent = true;
      finishIfDone();
    });
    client.publish({ destination: cfg.send[cfg.send.length - 1].destination, body: '__receipt__',
                     headers: { receipt } });
  } else {
    sent = true;
  }
}

client.onConnect = (frame) => {
  out({ event: 'connected', version: frame.headers.version, server: frame.headers.server });
  if (cfg.subscribe) {
    const receipt = 'sub-' + Date.now();
    client.watchForReceipt(receipt, () => {
      out({ event: 'subscribed' });
      sendAll();
      finishIfDone();
    });
    client.subscribe(cfg.subscribe, (msg) => {
      if (msg.body === '__receipt__') return;
      received += 1;
      const body = cfg.binary ? Buffer.from(msg.binaryBody).toString('base64') : msg.body;
      out({ event: 'message', body, headers: msg.headers });
      finishIfDone();
    }, { receipt });
  } else {
    sendAll();
    finishIfDone();
  }
};
client.onStompError = (frame) => {
  out({ event: 'error', what: 'stomp', message: frame.headers.message, body: frame.body });
  process.exit(3);
};
client.onWebSocketError = (e) => {
  out({ event: 'error', what: 'websocket', message: String(e?.message ?? e) });
};
client.onWebSocketClose = (e) => {
  out({ event: 'closed', code: e?.code, reason: e?.reason });
  if (!(sent && received >= expect)) process.exit(4);
};
client.activate();
