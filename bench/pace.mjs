// Open-loop pacing shared by the load generators: request i is due at t0 + i / rate, and
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
