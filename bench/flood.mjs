// The client side of bench/flood.sh, in two processes so that the flood's event loop does
// not delay the measured requests.
//   node bench/flood.mjs flood PORT FLOOD SECONDS [FLOOD_ADDR=127.0.0.1]
// keeps FLOOD connections open from FLOOD_ADDR for SECONDS, each sending a request head one
// header line every 3 s (slowloris), reconnecting a second after the daemon closes or
// refuses one; prints how many were open (connected and not yet closed) after 3 s and at
// the end.
//   node bench/flood.mjs measure PORT APP_SECRET PHONE_NUMBER_ID GOOD BAD RATE \
//        [CLIENT_ADDR=127.0.0.2]
// sends GOOD correctly signed deliveries with BAD wrongly signed ones mixed in at RATE/s
// (open loop, latency from each request's due time) over 8 keep-alive connections, and
// GET /healthz every 20 ms on a connection of its own. Each prints one JSON object.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { now, pace, postWebhook } from './pace.mjs';

const role = process.argv[2];

if (role === 'flood') {
  const [port, floodArg, secondsArg, floodAddr = '127.0.0.1'] = process.argv.slice(3);
  const flood = Number(floodArg);
  let open = 0;
  let closed = 0; // connections the daemon answered (503, 408) or closed
  let stopping = false;
  const slow = () => {
    if (stopping) return;
    const s = net.connect({ host: '127.0.0.1', port, localAddress: floodAddr });
    let timer = null;
    let counted = false;
    s.on('connect', () => {
      counted = true;
      open += 1;
      s.write('POST /api/whatsapp/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      let n = 0;
      timer = setInterval(() => s.write(`X-Slow-${n++}: 1\r\n`), 3000);
    });
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => {
      if (timer) clearInterval(timer);
      if (counted) open -= 1;
      closed += 1;
      setTimeout(slow, 1000);
    });
  };
  for (let i = 0; i < flood; i++) slow();
  await new Promise((r) => setTimeout(r, 3000));
  const openAfter3s = open;
  await new Promise((r) => setTimeout(r, Number(secondsArg) * 1000 - 3000));
  stopping = true;
  console.log(JSON.stringify({ flood, open_after_3s: openAfter3s, open_at_end: open,
                               closed_or_refused: closed }));
  process.exit(0);
}

const [port, secret, numberId, goodArg, badArg, rateArg, clientAddr = '127.0.0.2'] =
  process.argv.slice(3);
const good = Number(goodArg);
const bad = Number(badArg);
const rate = Number(rateArg);

// ---- deliveries from another address ----
const agent = new http.Agent({ keepAlive: true, maxSockets: 8, localAddress: clientAddr });
function delivery(i) {
  const wamid = `wamid.flood.${Date.now()}.${i}`;
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: '1', changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550000000', phone_number_id: numberId },
      contacts: [{ profile: { name: 'Flood' }, wa_id: '15551234567' }],
      messages: [{ from: '15551234567', id: wamid, timestamp: `${Math.floor(Date.now() / 1000)}`,
                   type: 'text', text: { body: `flood ${i}` } }],
    } }] }],
  });
  return body;
}
const total = good + bad;
// Bad ones spread evenly among the good.
const isBad = new Set();
for (let k = 0; k < bad; k++) isBad.add(Math.floor(((k + 0.5) * total) / bad));
const requests = [];
for (let i = 0; i < total; i++) {
  const body = delivery(i);
  const mac = createHmac('sha256', isBad.has(i) ? 'not-the-app-secret' : secret).update(body);
  requests.push([body, 'sha256=' + mac.digest('hex'), isBad.has(i)]);
}
const webhookMs = [];
let goodRefused = 0;
let badAccepted = 0;
let errors = 0;
let finished = 0;
const statuses = {};
function send(i, due) {
  const [body, sig, wrong] = requests[i];
  postWebhook(http, agent, port, body, sig, (status) => {
    finished += 1;
    if (status === 0) {
      errors += 1;
      if (!wrong) goodRefused += 1;
      return;
    }
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (wrong) {
      if (status === 200) badAccepted += 1;
    } else {
      webhookMs.push(now() - due);
      if (status !== 200) goodRefused += 1;
    }
  });
}

const healthMs = [];
let healthFailed = 0;
const healthAgent = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress: clientAddr });
let probing = true;
async function probe() {
  while (probing) {
    const t = now();
    await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: healthAgent,
                             timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) healthFailed += 1;
          healthMs.push(now() - t);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => {
        healthFailed += 1;
        healthMs.push(now() - t);
        resolve();
      });
    });
    await new Promise((r) => setTimeout(r, 20));
  }
}
const probing_done = probe();

const t0 = now() + 10;
await pace(total, rate, t0, send);
const deadline = now() + 30000;
while (finished < total && now() < deadline) await new Promise((r) => setTimeout(r, 5));
probing = false;
await probing_done;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(2) : null;
};
console.log(JSON.stringify({
  good, bad, rate, good_refused: goodRefused, bad_accepted: badAccepted, errors, statuses,
  webhook_p50_ms: pct(webhookMs, 0.5), webhook_p99_ms: pct(webhookMs, 0.99),
  webhook_max_ms: pct(webhookMs, 1),
  healthz_probes: healthMs.length, healthz_failed: healthFailed,
  healthz_p99_ms: pct(healthMs, 0.99), healthz_max_ms: pct(healthMs, 1),
}));
process.exit(0);
