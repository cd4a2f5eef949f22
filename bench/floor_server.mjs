// The reference the bench scripts print beside the daemon's figures: a bare Node HTTP server
// on the same machine in the same run. Any POST gets 200 at once (the floor of webhook
// latency, nothing stored); any GET gets an SSE response head and ": connected" and stays
// open (the floor of stream connect time). Prints its port on stdout.
//   node bench/floor_server.mjs [PORT=0]
import http from 'node:http';

const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.write(': connected\n\n');
    return;
  }
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 2 });
    res.end('{}');
  });
});
server.keepAliveTimeout = 5000;
server.listen({ host: '127.0.0.1', port: Number(process.argv[2] ?? 0), backlog: 4096 }, () => {
  console.log(server.address().port);
});
