// Meta's media endpoints for bench/media.sh, on loopback: GET /{version}/{media_id} answers the
// media info ({url, mime_type, sha256, file_size, id}) and GET /download/{media_id} the bytes,
// both only with a bearer token, the download after DOWNLOAD_DELAY_MS (default 100, a CDN's
// latency). Each media id has its own bytes (MEDIA_BYTES, default 300 KiB), so the daemon
// keeps every one. Prints its port, then serves until killed.
//   node bench/media_graph.mjs
import crypto from 'node:crypto';
import http from 'node:http';

const size = Number(process.env.MEDIA_BYTES ?? 300 * 1024);
const delay = Number(process.env.DOWNLOAD_DELAY_MS ?? 100);

// The bytes of `id`: one random block made once, with the id at its start, so that every id
// has its own bytes and this server spends little CPU beside the daemon's.
const block = crypto.randomBytes(size);
function bytesOf(id) {
  const out = Buffer.from(block);
  out.write(`${id}:`, 0);
  return out;
}

const server = http.createServer((req, res) => {
  if (!(req.headers.authorization ?? '').startsWith('Bearer ')) {
    res.writeHead(401, { 'Content-Type': 'application/json' });
    res.end('{"error":{"message":"no token","type":"OAuthException","code":190}}');
    return;
  }
  const url = new URL(req.url, 'http://127.0.0.1');
  const download = url.pathname.match(/^\/download\/([A-Za-z0-9]+)$/);
  const info = url.pathname.match(/^\/v[0-9.]+\/([A-Za-z0-9]+)$/);
  if (download) {
    const body = bytesOf(download[1]);
    setTimeout(() => {
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': body.length });
      res.end(body);
    }, delay);
  } else if (info) {
    const id = info[1];
    const sha256 = crypto.createHash('sha256').update(bytesOf(id)).digest('hex');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({
      url: `http://127.0.0.1:${server.address().port}/download/${id}`,
      mime_type: 'image/jpeg', sha256, file_size: size, id, messaging_product: 'whatsapp',
    }));
  } else {
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"error":{"message":"Unsupported get request","type":"GraphMethodException","code":100}}');
  }
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
