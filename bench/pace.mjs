// What the webhook load generators share. Open-loop pacing: request i is due at t0 + i / rate, and
// whatever is due goes out at once, so a slow server cannot slow the arrivals (as wrk2
// does, unlike closed-loop wrk). `send(i, due)` starts request i; the caller times it
// from `due`.
export const now = () => performance.now();

export function pace(total, rate, t0, send) {
  let sent = 0;
  return new Promise((resolve) => {
    const tick = () => {
      const t = now();
      while (sent < total && t0 + (sent * 1000) / rate <= t) {
        send(sent, t0 + (sent * 1000) / rate);
        sent += 1;
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
}

// POSTs one signed delivery to the daemon's webhook on `agent`'s connections; `done` gets
// the HTTP status, or 0 when the request failed.
export function postWebhook(http, agent, port, body, signature, done) {
  const req = http.request({
    host: '127.0.0.1', port, path: '/api/whatsapp/webhook', method: 'POST', agent,
    headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body),
               'X-Hub-Signature-256': signature },
  }, (res) => {
    res.resume();
    res.on('end', () => done(res.statusCode));
  });
  req.on('error', () => done(0));
  req.end(body);
}
