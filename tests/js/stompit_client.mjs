// stompit (npm, STOMP over TCP) scripted for Ferry's integration tests
// (tests/integration/test_more_clients.py). Usage:
//   node stompit_client.mjs '<json>' with
//   port        the broker's STOMP port
//   subscribe   {destination, ack, headers} (optional; subscribed with a receipt)
//   send        [{destination, body, headers}], each SEND with a receipt
//   expect      MESSAGEs to wait for (default 0); ack: true acks each one
//   timeout_ms  give up after this long (default 10000)
// Prints one JSON line per event (connected, subscribed, receipt, message,
// done, error); exits 0 when everything expected happened.
import stompit from 'stompit';

const cfg = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const fail = (what, code = 1) => {
  out({ event: 'error', what: String(what) });
  process.exit(code);
};
setTimeout(() => fail('timeout', 2), cfg.timeout_ms ?? 10000);

const connectHeaders = { host: '/', login: 'guest', passcode: 'guest', 'heart-beat': '0,0' };
stompit.connect({ host: '127.0.0.1', port: cfg.port, connectHeaders }, (err, client) => {
  if (err) fail('connect: ' + err.message);
  client.on('error', (e) => fail('client: ' + e.message));
  out({ event: 'connected', headers: client.headers ?? {} });

  const expect = cfg.expect ?? 0;
  let received = 0;
  let sent = false;
  let finishing = false;
  // DISCONNECT (with a receipt: stompit waits for it) once every SEND is
  // receipted and every expected MESSAGE is in
  const maybeFinish = () => {
    if (!sent || received < expect || finishing) return;
    finishing = true;
    client.disconnect((e) => {
      if (e) fail('disconnect: ' + e.message);
      out({ event: 'done' });
      process.exit(0);
    });
  };

  const sendAll = (i) => {
    const list = cfg.send ?? [];
    if (i === list.length) {
      sent = true;
      maybeFinish();
      return;
    }
    const m = list[i];
    const frame = client.send({ ...(m.headers ?? {}), destination: m.destination }, {
      onReceipt: () => {
        out({ event: 'receipt', index: i });
        sendAll(i + 1);
      },
    });
    frame.write(m.body);
    frame.end();
  };

  const onMessage = (e, message) => {
    if (e) fail('message: ' + e.message);
    message.readString('utf-8', (e2, body) => {
      if (e2) fail('read: ' + e2.message);
      received++;
      out({ event: 'message', headers: message.headers, body });
      if (cfg.ack) client.ack(message);
      maybeFinish();
    });
  };

  const sub = cfg.subscribe;
  if (!sub) {
    sendAll(0);
    return;
  }
  // client.subscribe() takes no receipt; register the subscription the way
  // subscribe() does and send the SUBSCRIBE with one, so SENDs and other
  // clients start only once the broker has it.
  const id = 'sub-1';
  const ack = sub.ack ?? 'auto';
  client.setImplicitSubscription(id, ack, onMessage);
  client.sendFrame('SUBSCRIBE', { ...(sub.headers ?? {}), destination: sub.destination, id, ack }, {
    onReceipt: () => {
      out({ event: 'subscribed' });
      sendAll(0);
    },
  }).end();
});
