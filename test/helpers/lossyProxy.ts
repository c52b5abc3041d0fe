// An HTTP proxy in front of a real server (Azurite) that can lose or delay what passes through it, the faults a real
// network produces on loopback:
//   'drop'              the request is carried out, then the client's connection is cut before the answer reaches it
//                       (the write landed; the caller cannot know);
//   { holdMs }          the request is held that long before it is forwarded, whatever the client does meanwhile (a
//                       client that times out first sees a failure, and the write lands afterwards);
//   { holdAnswerMs }    the request is carried out at once and its answer held that long (a client that times out
//                       first sees a failure of a write that has landed).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyFault = 'pass' | 'drop' | { holdMs: number } | { holdAnswerMs: number };

export interface LossyProxy {
  /** http://127.0.0.1:{port}: use it in place of the target's origin. */
  readonly origin: string;
  /** Requests whose answer was dropped, as `METHOD path`. */
  readonly dropped: string[];
  /** Held requests once forwarded, as `METHOD path`, with the status the target answered. */
  readonly forwardedLate: { request: string; status: number }[];
  close(): Promise<void>;
}

/** `fault` decides per request, before forwarding; `true` is 'drop', `false` 'pass'. */
export async function startLossyProxy(target: string, fault: (req: http.IncomingMessage) => ProxyFault | boolean): Promise<LossyProxy> {
  const to = new URL(target);
  const dropped: string[] = [];
  const forwardedLate: { request: string; status: number }[] = [];
  // Held requests and answers, and upstream requests, end with the proxy: nothing may outlive the test.
  const timers = new Set<NodeJS.Timeout>();
  const upstreams = new Set<http.ClientRequest>();
  const later = (fn: () => void, ms: number) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const server = http.createServer((req, res) => {
    const decided = fault(req);
    const mode: ProxyFault = decided === true ? 'drop' : decided === false ? 'pass' : decided;
    const name = `${req.method} ${req.url}`;
    const forward = (body?: Buffer) => {
      const upstream = http.request(
        { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers, agent: false },
        (answer) => {
          if (mode === 'drop') {
            dropped.push(name);
            answer.resume();
            answer.on('end', () => req.socket.destroy());
            return;
          }
          if (typeof mode === 'object' && 'holdMs' in mode) forwardedLate.push({ request: name, status: answer.statusCode ?? 0 });
          const relay = () => {
            if (res.destroyed || req.socket.destroyed) return void answer.resume();
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          };
          if (typeof mode === 'object' && 'holdAnswerMs' in mode) later(relay, mode.holdAnswerMs);
          else relay();
        },
      );
      upstreams.add(upstream);
      upstream.on('close', () => upstreams.delete(upstream));
      upstream.on('error', () => req.socket.destroy());
      if (body) upstream.end(body);
      else req.pipe(upstream);
    };
    if (typeof mode === 'object' && 'holdMs' in mode) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => later(() => forward(Buffer.concat(chunks)), mode.holdMs));
    } else {
      forward();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    dropped,
    forwardedLate,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        for (const u of upstreams) u.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
