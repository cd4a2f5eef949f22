// An open-loop load generator (what wrk2 does; Debian has no wrk2): sends pre-signed webhook
// deliveries at a fixed arrival rate over N keep-alive connections and measures each
// request's latency from the moment it was due, not from when a free connection sent it, so
// a server that stalls is charged for the queue it causes. Prints one JSON object.
//   node bench/openloop.mjs PORT RATE SECONDS CONNECTIONS BODIES_FILE...
// Each BODIES_FILE line is "<X-Hub-Signature-256>\t<body>" (bench/bodies.py writes them).
import fs from 'node:fs';
import http from 'node:http';
import { now, pace, postWebhook } from './pace.mjs';

const [port, rateArg, secondsArg, connectionsArg, ...files] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const connections = Number(connectionsArg);
const bodies = [];
for (const f of files) {
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) bodies.push([line.slice(0, tab), line.slice(tab + 1)]);
  }
}
const total = Math.round(rate * seconds);
if (bodies.length < total) {
  console.error(`only ${bodies.length} bodies for ${total} requests: duplicates will be sent`);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const latencies = [];
let non200 = 0;
let errors = 0;
let finished = 0;

function send(i, due) {
  const [sig, body] = bodies[i % bodies.length];
  postWebhook(http, agent, port, body, sig, (status) => {
    finished += 1;
    if (status === 0) {
      errors += 1;
      return;
    }
    latencies.push(now() - due);
    if (status !== 200) non200 += 1;
  });
}

const t0 = now() + 50;
// Request i is due at t0 + i / rate: a receiver further on (bench/hooks.sh) measures from it.
if (process.env.OPENLOOP_T0_FILE) {
  fs.writeFileSync(process.env.OPENLOOP_T0_FILE, (performance.timeOrigin + t0).toFixed(3));
}
await pace(total, rate, t0, send);
const deadline = now() + 30000;
while (finished < total && now() < deadline) await new Promise((r) => setTimeout(r, 5));
const elapsed = (now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
console.log(JSON.stringify({
  rate, seconds, connections, sent: total, answered: latencies.length, non200, errors,
  achieved_rps: Math.round(latencies.length / elapsed),
  p50_ms: pct(0.5)?.toFixed(2), p99_ms: pct(0.99)?.toFixed(2), p999_ms: pct(0.999)?.toFixed(2),
  max_ms: latencies.at(-1)?.toFixed(2),
}));
process.exit(0);
