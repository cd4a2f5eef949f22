// The client side of bench/streams.sh: opens N concurrent SSE or WebSocket streams for one
// tenant, sends signed webhook deliveries at a fixed rate, and measures, for every
// (client, delivery), the time from the webhook's 200 to the client's receipt of its
// message.received event. Prints one JSON object with the figures.
//
//   node bench/streams_client.mjs sse|ws HTTP_PORT WS_PORT TOKEN APP_SECRET PHONE_NUMBER_ID \
//        [CLIENTS=1000] [DELIVERIES=50] [RATE=10]
// Mode sse-connect only opens the SSE streams and prints the time it took (for the
// reference server, which sends no events).
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const WebSocket = createRequire(path.join(here, '../tests/node/'))('ws');

const [mode, httpPort, wsPort, token, secret, numberId, clientsArg, deliveriesArg, rateArg] =
  process.argv.slice(2);
const clients = Number(clientsArg ?? 1000);
const deliveries = Number(deliveriesArg ?? 50);
const rate = Number(rateArg ?? 10);
const now = () => performance.timeOrigin + performance.now();
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

const acked = new Map(); // wamid → time the webhook answered 200
const received = new Map(); // wamid → [receipt times]
let connected = 0;

// Receipt is timed first; the id is found without parsing the whole JSON, so the client's
// own CPU time (1,000 streams in one Node thread) weighs as little as possible.
const idKey = '"message_id":"';
function onEvent(json) {
  const t = now();
  if (!json.includes('"type":"message.received"')) return;
  const at = json.indexOf(idKey);
  if (at < 0) return;
  const id = json.slice(at + idKey.length, json.indexOf('"', at + idKey.length));
  if (!received.has(id)) received.set(id, []);
  received.get(id).push(t);
}

function openSse(done) {
  const req = http.get(
    { host: '127.0.0.1', port: httpPort, path: `/api/whatsapp/events?access_token=${token}`, agent },
    (res) => {
      if (res.statusCode !== 200) throw new Error(`SSE status ${res.statusCode}`);
      res.setEncoding('utf8');
      let buf = '';
      let first = true;
      res.on('data', (chunk) => {
        buf += chunk;
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (first) {
            first = false;
            done();
          }
          for (const line of block.split('\n')) {
            if (line.startsWith('data: ')) onEvent(line.slice(6));
          }
        }
      });
    },
  );
  req.on('error', (e) => {
    throw e;
  });
}

function openWs(done) {
  const ws = new WebSocket(`ws://127.0.0.1:${wsPort}/api/whatsapp/ws`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  ws.on('open', done);
  ws.on('message', (data) => onEvent(data.toString()));
  ws.on('error', (e) => {
    throw e;
  });
}

function delivery(i) {
  const wamid = `wamid.bench.${Date.now()}.${i}`;
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{
      id: '1',
      changes: [{
        field: 'messages',
        value: {
          messaging_product: 'whatsapp',
          metadata: { display_phone_number: '15550000000', phone_number_id: numberId },
          contacts: [{ profile: { name: 'Bench' }, wa_id: '15551234567' }],
          messages: [{ from: '15551234567', id: wamid, timestamp: `${Math.floor(Date.now() / 1000)}`,
                       type: 'text', text: { body: `bench ${i}` } }],
        },
      }],
    }],
  });
  const sig = 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: httpPort, path: '/api/whatsapp/webhook', method: 'POST', agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body),
                   'X-Hub-Signature-256': sig } },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`webhook status ${res.statusCode}`));
          acked.set(wamid, now());
          resolve();
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// Clients connect a few at a time, as real ones trickle in.
const open = mode === 'ws' ? openWs : openSse;
const inFlight = 8;
const t0 = now();
await new Promise((resolve) => {
  let started = 0;
  const next = () => {
    if (started >= clients) return;
    started += 1;
    open(() => {
      connected += 1;
      if (connected === clients) resolve();
      next();
    });
  };
  for (let i = 0; i < inFlight; i++) next();
});
const connectMs = now() - t0;
if (mode === 'sse-connect') {
  console.log(JSON.stringify({ mode, clients, connect_all_ms: Math.round(connectMs) }));
  process.exit(0);
}

const sends = [];
for (let i = 0; i < deliveries; i++) {
  sends.push(delivery(i));
  await new Promise((r) => setTimeout(r, 1000 / rate));
}
await Promise.all(sends);
// Let the last events arrive (bounded wait).
const deadline = now() + 10000;
while (now() < deadline) {
  let complete = true;
  for (const id of acked.keys()) {
    if ((received.get(id) ?? []).length < clients) complete = false;
  }
  if (complete) break;
  await new Promise((r) => setTimeout(r, 50));
}

const latencies = [];
let missing = 0;
for (const [id, t] of acked) {
  const got = received.get(id) ?? [];
  missing += clients - got.length;
  for (const r of got) latencies.push(Math.max(0, r - t));
}
latencies.sort((a, b) => a - b);
const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : null;
console.log(JSON.stringify({
  mode, clients, deliveries, rate,
  connect_all_ms: Math.round(connectMs),
  receipts: latencies.length, expected: clients * deliveries, missing,
  p50_ms: pct(0.5)?.toFixed(2), p99_ms: pct(0.99)?.toFixed(2), max_ms: latencies.at(-1)?.toFixed(2),
}));
process.exit(0);
