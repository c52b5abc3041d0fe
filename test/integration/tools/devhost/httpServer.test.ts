// The local host's HTTP server under abuse: oversized and aborted uploads, idle connections. It runs with one
// function that reads its body the way the app's handlers do (readJsonBody with a limit), on a free port.
import http from 'node:http';
import net from 'node:net';
import { withErrorContract } from '../../../../shared/platform/errors';
import { readJsonBody } from '../../../../shared/platform/http';
import { RegisteredFunction } from '../../../../tools/devhost/functionsCore';
import { HttpServerLimits, LocalHttpServer, startHttpServer } from '../../../../tools/devhost/httpServer';
import { HostLogger } from '../../../../tools/devhost/logging';

const LIMIT = 1024 * 1024;

const echo: RegisteredFunction = {
  name: 'echo',
  bindings: {},
  trigger: { type: 'httpTrigger', direction: 'in', route: 'echo', methods: ['POST'] },
  handler: withErrorContract(async (request) => ({ jsonBody: { got: await readJsonBody(request, { maxBytes: LIMIT }) } })) as never,
};

interface Logged {
  level: 'info' | 'warn' | 'error' | 'debug';
  message: string;
}

function recordingLogger(lines: Logged[]): HostLogger {
  return {
    info: (message) => lines.push({ level: 'info', message }),
    warn: (message) => lines.push({ level: 'warn', message }),
    error: (message) => lines.push({ level: 'error', message }),
    debug: (message) => lines.push({ level: 'debug', message }),
  };
}

const slow: RegisteredFunction = {
  name: 'slow',
  bindings: {},
  trigger: { type: 'httpTrigger', direction: 'in', route: 'slow', methods: ['GET'] },
  handler: async () => {
    await new Promise((r) => setTimeout(r, 1500));
    return { jsonBody: { done: true } };
  },
};

async function startEcho(lines: Logged[], limits: Partial<HttpServerLimits> = {}): Promise<LocalHttpServer> {
  return startHttpServer([echo, slow], 0, recordingLogger(lines), limits);
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function post(port: number, body: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Upload chunks of `chunkBytes` (honouring backpressure) until the server answers or `totalBytes` are sent. */
function upload(
  port: number,
  totalBytes: number,
  headers: Record<string, string | number>,
): Promise<{ status: number; sentBytes: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        agent: false,
      },
      (res) => {
        answered = true;
        res.resume();
        resolve({ status: res.statusCode ?? 0, sentBytes: sent });
        req.destroy();
      },
    );
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const pump = () => {
      while (!answered && sent < totalBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe('local host HTTP server', () => {
  let server: LocalHttpServer;
  const lines: Logged[] = [];

  beforeAll(async () => {
    server = await startEcho(lines);
  });
  afterAll(() => server.close());

  it('serves a body under the limit and marks every answer nosniff', async () => {
    const ok = await post(server.port, '{"a":1}');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ got: { a: 1 } });
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
    const bad = await post(server.port, '{', {});
    expect(bad.status).toBe(400);
    expect(bad.headers['x-content-type-options']).toBe('nosniff');
    const missing = await new Promise<http.IncomingMessage>((resolve) => http.get(`http://127.0.0.1:${server.port}/api/nothing`, resolve));
    missing.resume();
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['x-content-type-options']).toBe('nosniff');
  });

  it('answers a Host header that is not a URL host with a 400 and keeps serving', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(server.port, '127.0.0.1', () =>
        socket.end('GET /api/echo HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n'),
      );
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('"code":"bad_request"');
    expect((await post(server.port, '{"a":2}')).status).toBe(200);
  });

  it('refuses a declared Content-Length over the route limit before reading the body', async () => {
    // The body is never sent: the answer must come from the header alone.
    const answer = await upload(server.port, 0, { 'content-length': 50 * 1024 * 1024 });
    expect(answer.status).toBe(413);
    expect(answer.sentBytes).toBe(0);
  });

  it('cuts a chunked body at the route limit instead of reading it all', async () => {
    const answer = await upload(server.port, 64 * 1024 * 1024, { 'transfer-encoding': 'chunked' });
    expect(answer.status).toBe(413);
    // What was sent before the 413 arrived: the limit plus what the socket buffers held, not the 64 MiB.
    expect(answer.sentBytes).toBeLessThan(16 * 1024 * 1024);
  });

  it('logs a client that aborts its upload as a rate-limited warning, not an error', async () => {
    lines.length = 0;
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const socket = net.connect(server.port, '127.0.0.1', () => {
          socket.write('POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":');
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 50);
        });
      });
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toMatch(/client closed the connection/);
  });
});

describe('local host HTTP server connections', () => {
  it('caps connections and drops idle ones, so a new request is still answered', async () => {
    const lines: Logged[] = [];
    const server = await startEcho(lines, { maxConnections: 50, headersTimeoutMs: 1000, requestTimeoutMs: 2000 });
    const sockets: net.Socket[] = [];
    let closedByServer = 0;
    try {
      await Promise.all(
        Array.from(
          { length: 300 },
          () =>
            new Promise<void>((resolve) => {
              const s = net.connect(server.port, '127.0.0.1', () => resolve());
              s.on('close', () => (closedByServer += 1));
              s.on('error', () => resolve());
              sockets.push(s);
            }),
        ),
      );
      // Beyond the cap, sockets are closed on arrival.
      await new Promise((r) => setTimeout(r, 300));
      expect(closedByServer).toBeGreaterThanOrEqual(250);

      // A request now is answered or refused at once, never left hanging.
      const started = Date.now();
      await post(server.port, '{"a":1}').catch(() => undefined);
      expect(Date.now() - started).toBeLessThan(3000);

      // The idle ones are dropped once they have sent no headers for headersTimeoutMs; then requests are served.
      await new Promise((r) => setTimeout(r, 2000));
      expect(closedByServer).toBe(300);
      const ok = await post(server.port, '{"a":1}');
      expect(ok.status).toBe(200);
      expect(lines.filter((l) => l.level === 'warn' && /LOCAL_HOST_MAX_CONNECTIONS/.test(l.message))).toHaveLength(1);

      // The connection timeout stops with the request: a handler slower than headersTimeoutMs still answers.
      const slowAnswer = await fetch(`http://127.0.0.1:${server.port}/api/slow`);
      expect(slowAnswer.status).toBe(200);
    } finally {
      sockets.forEach((s) => s.destroy());
      await server.close();
    }
  });
});

describe('local host HTTP server stop', () => {
  it('closes while clients keep sending on keep-alive connections, answering each request it accepted', async () => {
    const server = await startEcho([]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    const get = () =>
      new Promise<Answer>((resolve) => {
        http
          .get({ host: '127.0.0.1', port: server.port, path: '/api/slow', agent }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' }));
          })
          .on('error', () => resolve({ status: 0, headers: {}, body: '' }));
      });
    let closing = false;
    let settled = false;
    const answers: Answer[] = [];
    // Two clients that send their next request as soon as the last is answered, until the server refuses them.
    const client = async () => {
      while (!settled && (!closing || answers.at(-1)?.status === 200)) answers.push(await get());
    };
    const clients = [client(), client()];
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    closing = true;
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      server.close().then(() => Date.now() - started),
      new Promise<number>((r) => (timer = setTimeout(() => r(Infinity), 5000))),
    ]);
    clearTimeout(timer);
    settled = true;
    await Promise.all(clients);
    agent.destroy();
    // Node serves a request that arrives on an open keep-alive connection after close(): unless the server closes
    // those connections, the clients keep it open for as long as they send.
    expect(closed).toBeLessThan(2500);
    // The two requests in flight when the close began are answered, with Connection: close.
    expect(answers.filter((a) => a.status === 200)).toHaveLength(2);
    expect(answers.filter((a) => a.status === 200).map((a) => a.headers.connection)).toEqual(['close', 'close']);
  });
});
