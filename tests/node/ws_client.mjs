// A real WebSocket client (the `ws` package) driven by wabactl's integration tests.
// Prints one JSON line per observation on stdout and exits 0, or exits 1 with a reason.
//
//   node ws_client.mjs MODE URL [options]
//   MODE: events     collect --count text frames (each printed as {"event": …}); after
//                    --then-after of them run --then (a JSON argv array) as a child process
//         ping       send a ping, print {"pong": payload}
//         fragment   send a fragmented text message, then a ping: print {"pong": …}
//         oversize   send a 100 KiB message: print {"close": code}
//         handshake  print {"status": HTTP status} of a refused handshake
//   --token T        send Authorization: Bearer T (otherwise the URL carries it)
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';

const [mode, url, ...rest] = process.argv.slice(2);
const opt = {};
for (let i = 0; i < rest.length; i += 2) opt[rest[i].replace(/^--/, '')] = rest[i + 1];
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const fail = (why) => {
  process.stderr.write(`ws_client: ${why}\n`);
  process.exit(1);
};
setTimeout(() => fail('timed out'), Number(opt.timeout ?? 10000)).unref();

const headers = opt.token ? { Authorization: `Bearer ${opt.token}` } : {};
const ws = new WebSocket(url, { headers });
ws.on('error', (e) => {
  if (mode !== 'handshake') fail(`error: ${e.message}`);
});
ws.on('unexpected-response', (req, res) => {
  if (mode !== 'handshake') fail(`handshake refused: ${res.statusCode}`);
  out({ status: res.statusCode });
  process.exit(0);
});

const runThen = () => {
  const argv = JSON.parse(opt.then);
  execFileSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  out({ ran: argv[1] });
};

ws.on('open', () => {
  if (mode === 'handshake') fail('handshake unexpectedly accepted');
  if (mode === 'events' && opt.then && Number(opt['then-after'] ?? 0) === 0) runThen();
  if (mode === 'ping') ws.ping(Buffer.from('hello'));
  if (mode === 'fragment') {
    ws.send('frag', { fin: false });
    ws.send('ment', { fin: false });
    ws.send('ed', { fin: true }, () => ws.ping(Buffer.from('after-fragments')));
  }
  if (mode === 'oversize') ws.send(Buffer.alloc(100 * 1024, 0x61));
});
ws.on('pong', (data) => {
  out({ pong: data.toString() });
  ws.close(1000);
});
ws.on('close', (code) => {
  if (mode === 'oversize') out({ close: code });
  process.exit(0);
});

let received = 0;
ws.on('message', (data, isBinary) => {
  if (mode !== 'events') return;
  if (isBinary) fail('binary frame');
  out({ event: JSON.parse(data.toString()) });
  received += 1;
  if (opt.then && received === Number(opt['then-after'] ?? 0)) runThen();
  if (received >= Number(opt.count ?? 1)) ws.close(1000);
});
