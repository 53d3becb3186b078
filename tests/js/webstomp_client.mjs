// webstomp-client (npm, STOMP over WebSocket) scripted for Ferry's
// integration tests (tests/integration/test_more_clients.py), over the `ws`
// package's WebSocket. Usage: node webstomp_client.mjs '<json>' with
//   url         ws://127.0.0.1:PORT/ws
//   subscribe   {destination, ack, headers} (optional; subscribed with a receipt)
//   send        [{destination, body, headers}], each SEND with a receipt
//   expect      MESSAGEs to wait for (default 0); ack: true acks each one
//   timeout_ms  give up after this long (default 10000)
// Prints one JSON line per event (connected, subscribed, receipt, message,
// done, error); exits 0 when everything expected happened.
import webstomp from 'webstomp-client';
import WebSocket from 'ws';

const cfg = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const fail = (what, code = 1) => {
  out({ event: 'error', what: typeof what === 'string' ? what : JSON.stringify(what) });
  process.exit(code);
};
setTimeout(() => fail('timeout', 2), cfg.timeout_ms ?? 10000);

const protocols = webstomp.VERSIONS.supportedProtocols();
const ws = new WebSocket(cfg.url, protocols);
const client = webstomp.over(ws, { heartbeat: false, debug: false, protocols });

const receipts = new Map();  // receipt id -> callback
client.onreceipt = (frame) => {
  const cb = receipts.get(frame.headers['receipt-id']);
  if (!cb) fail('unexpected RECEIPT ' + JSON.stringify(frame.headers));
  receipts.delete(frame.headers['receipt-id']);
  cb();
};

client.connect({ host: '/', login: 'guest', passcode: 'guest' }, (frame) => {
  out({ event: 'connected', protocol: ws.protocol, headers: frame.headers });
  const expect = cfg.expect ?? 0;
  let received = 0;
  let sent = false;
  let finishing = false;
  // DISCONNECT once every SEND is receipted and every expected MESSAGE is
  // in; webstomp closes the WebSocket right after it (no receipt wait), so
  // exit when the close handshake is done (the ACKs went out before)
  const maybeFinish = () => {
    if (!sent || received < expect || finishing) return;
    finishing = true;
    ws.on('close', () => {
      out({ event: 'done' });
      process.exit(0);
    });
    client.disconnect(undefined, { receipt: 'bye' });
  };
  receipts.set('bye', () => {});

  const sendAll = (i) => {
    const list = cfg.send ?? [];
    if (i === list.length) {
      sent = true;
      maybeFinish();
      return;
    }
    const m = list[i];
    const rid = 'send-r' + i;
    receipts.set(rid, () => {
      out({ event: 'receipt', 'receipt-id': rid });
      sendAll(i + 1);
    });
    client.send(m.destination, m.body, { ...(m.headers ?? {}), receipt: rid });
  };

  const sub = cfg.subscribe;
  if (!sub) {
    sendAll(0);
    return;
  }
  receipts.set('sub-r', () => {
    out({ event: 'subscribed' });
    sendAll(0);
  });
  client.subscribe(sub.destination, (message) => {
    received++;
    out({ event: 'message', headers: message.headers, body: message.body });
    if (cfg.ack) message.ack();
    maybeFinish();
  }, { ...(sub.headers ?? {}), id: 'sub-1', ack: sub.ack ?? 'auto', receipt: 'sub-r' });
}, (err) => fail(err && err.headers ? { headers: err.headers, body: err.body } : String(err && err.code)));
