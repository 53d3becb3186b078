// A scripted MQTT.js (npm `mqtt`) client for Ferry's integration tests
// (tests/integration/test_mqtt_js.py). Usage: node mqtt_client.mjs '<json>' with
//   url          mqtt://127.0.0.1:PORT or ws://127.0.0.1:PORT/mqtt
//   version      4 (MQTT 3.1.1) or 5
//   username, password
//   subscribe    a topic filter to subscribe to (optional), at `qos`
//   expect       messages to wait for on it (default 0)
//   publish      [{topic, payload, qos, user_properties}] published after subscribing
//   timeout_ms   give up after this long (default 10000)
// Prints one JSON line per event: {"event":"connected"}, {"event":"subscribed",
// "granted":[...]}, {"event":"message","topic","payload","qos","user_properties"},
// {"event":"published"} (each publish acknowledged as its QoS asks),
// {"event":"done"} or {"event":"error",...}; exits 0 when everything
// expected happened.
import mqtt from 'mqtt';

const cfg = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const timeout = setTimeout(() => {
  out({ event: 'error', what: 'timeout' });
  process.exit(2);
}, cfg.timeout_ms ?? 10000);

const expect = cfg.expect ?? 0;
let received = 0;
let published = false;

const client = mqtt.connect(cfg.url, {
  protocolVersion: cfg.version ?? 4,
  username: cfg.username ?? 'guest',
  password: cfg.password ?? 'guest',
  clientId: cfg.client_id,
  clean: true,
  reconnectPeriod: 0,
  connectTimeout: 5000,
});

function finishIfDone() {
  if (!published || received < expect) return;
  out({ event: 'done' });
  clearTimeout(timeout);
  client.end(false, {}, () => process.exit(0));
}

client.on('error', (e) => {
  out({ event: 'error', what: String(e && e.message ? e.message : e) });
  process.exit(1);
});

client.on('message', (topic, payload, packet) => {
  received += 1;
  out({
    event: 'message', topic, payload: payload.toString('utf8'), qos: packet.qos,
    user_properties: (packet.properties && packet.properties.userProperties) || {},
  });
  finishIfDone();
});

async function publishAll() {
  for (const p of cfg.publish ?? []) {
    const opts = { qos: p.qos ?? 0 };
    if (p.user_properties) opts.properties = { userProperties: p.user_properties };
    await client.publishAsync(p.topic, p.payload, opts);
    out({ event: 'published', topic: p.topic });
  }
  published = true;
  finishIfDone();
}

client.on('connect', async (connack) => {
  out({ event: 'connected', session_present: connack.sessionPresent });
  try {
    if (cfg.subscribe) {
      const granted = await client.subscribeAsync(cfg.subscribe, { qos: cfg.qos ?? 0 });
      out({ event: 'subscribed', granted: granted.map((g) => g.qos) });
    }
    await publishAll();
  } catch (e) {
    out({ event: 'error', what: String(e && e.message ? e.message : e) });
    process.exit(1);
  }
});
