// An HTTP proxy in front of a real server (Azurite) that can lose a response: the request is forwarded and
// carried out, then the client's connection is cut before the answer reaches it. That is the fault a timeout
// produces on a real network (the write landed, the caller cannot know), made to happen on loopback.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LossyProxy {
  /** http://127.0.0.1:{port}: use it in place of the target's origin. */
  readonly origin: string;
  /** Requests whose response was dropped, as `METHOD path`. */
  readonly dropped: string[];
  close(): Promise<void>;
}

/** `dropResponse` decides per request, before forwarding; the request reaches the target either way. */
export async function startLossyProxy(target: string, dropResponse: (req: http.IncomingMessage) => boolean): Promise<LossyProxy> {
  const to = new URL(target);
  const dropped: string[] = [];
  const server = http.createServer((req, res) => {
    const drop = dropResponse(req);
    const upstream = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (drop) {
          dropped.push(`${req.method} ${req.url}`);
          answer.resume();
          answer.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    dropped,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
