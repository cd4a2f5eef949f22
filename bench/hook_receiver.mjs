// Receivers for bench/hooks.sh: a live one answering 204 at once, which records when each
// forwarded message.received arrived, and a dead one that accepts every request and never
// answers. Writes their ports to LIVE_PORT_FILE and DEAD_PORT_FILE; on SIGTERM writes
// "<n> <epoch ms>" per delivery to OUT_FILE (n: the bench message number in the wamid) and
// exits.
//   node bench/hook_receiver.mjs LIVE_PORT_FILE DEAD_PORT_FILE OUT_FILE
import fs from 'node:fs';
import http from 'node:http';

const [livePortFile, deadPortFile, outFile] = process.argv.slice(2);
const arrivals = [];
const live = http.createServer({ keepAlive: true }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = performance.timeOrigin + performance.now();
    const id = /"message_id":"wamid\.BENCHIN(\d+)"/.exec(Buffer.concat(chunks).toString());
    if (id) arrivals.push(`${Number(id[1])} ${at.toFixed(3)}`);
    res.writeHead(204);
    res.end();
  });
});
const dead = http.createServer(() => {});
live.keepAliveTimeout = 60000;
live.listen(0, '127.0.0.1', () => fs.writeFileSync(livePortFile, String(live.address().port)));
dead.listen(0, '127.0.0.1', () => fs.writeFileSync(deadPortFile, String(dead.address().port)));
process.on('SIGTERM', () => {
  fs.writeFileSync(outFile, arrivals.join('\n') + '\n');
  process.exit(0);
});
