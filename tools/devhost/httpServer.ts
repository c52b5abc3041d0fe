// HTTP triggers on the local host: http://host:port/api/{route}, as the Functions host serves them.
// Auth levels are not enforced locally (Core Tools does the same); Azure enforces them.
//
// Bodies are streamed to the handler, never buffered here: each route's reader (shared/platform/http.ts
// readBodyBytes) applies that route's own limit as the bytes arrive and leaves the rest unread, so this host needs
// no copy of the limits, and an oversized upload costs no memory. The Azure host buffers bodies (up to its 100 MB)
// before it calls the worker; the handlers read both the same way.
import { HttpRequest, HttpRequestInit, HttpResponse, HttpResponseInit, InvocationContext } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net, { AddressInfo } from 'node:net';
import { ReadableStream as WebReadableStream, ByteLengthQueuingStrategy } from 'node:stream/web';
import { getConfig } from '../../shared/platform/config';
import { errorResponse, STANDARD_HEADERS } from '../../shared/platform/errors';
import { RegisteredFunction } from './functionsCore';
import { compileRoute, CompiledRoute } from './routes';
import { HostLogger, invocationLogHandler, rateLimitedWarning } from './logging';

/** The Functions host refuses bodies above 100 MB; the handlers enforce their own, smaller limits. */
const HOST_MAX_BODY_BYTES = 100 * 1024 * 1024;
const ROUTE_PREFIX = 'api';
/** How much of a body waits for the handler to read it before the socket is paused. */
const BODY_BUFFER_BYTES = 256 * 1024;

export interface HttpServerLimits {
  /** Connections beyond this are closed on arrival (LOCAL_HOST_MAX_CONNECTIONS). */
  maxConnections: number;
  /** A connection that has not sent a request's headers within this is closed (Slowloris, idle sockets). */
  headersTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this; the handler's own time does not count. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this; longer than Node's client agents keep a free socket (5 s). */
  keepAliveTimeoutMs: number;
}

const DEFAULT_TIMEOUTS: Omit<HttpServerLimits, 'maxConnections'> = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 10_000,
};

interface HttpFunction {
  fn: RegisteredFunction;
  route: CompiledRoute;
  methods: string[] | undefined;
}

export interface LocalHttpServer {
  readonly url: string;
  readonly port: number;
  /** Stop accepting connections, answer the requests in flight (closing their connections) and wait for them. */
  close(): Promise<void>;
}

function toHttpFunction(fn: RegisteredFunction): HttpFunction {
  const route = typeof fn.trigger.route === 'string' ? fn.trigger.route : fn.name;
  const methods = Array.isArray(fn.trigger.methods) ? (fn.trigger.methods as string[]).map((m) => m.toUpperCase()) : undefined;
  return { fn, route: compileRoute(route), methods };
}

/**
 * The request body as a web stream that the handler pulls; cancelling it (a body over the route's limit) pauses the
 * socket instead of destroying it, so the 413 still reaches the client before the connection closes.
 */
function bodyStream(req: http.IncomingMessage): WebReadableStream<Uint8Array> {
  let open = true;
  const finish = (end: () => void) => {
    if (!open) return;
    open = false;
    end();
  };
  return new WebReadableStream<Uint8Array>(
    {
      start(controller) {
        req.pause();
        req.on('data', (chunk: Buffer) => {
          if (!open) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        });
        req.once('end', () => finish(() => controller.close()));
        req.once('error', (err) => finish(() => controller.error(err)));
        req.once('close', () => finish(() => (req.complete ? controller.close() : controller.error(new Error('aborted')))));
      },
      pull() {
        req.resume();
      },
      cancel() {
        open = false;
        req.pause();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: BODY_BUFFER_BYTES }),
  );
}

function hasBody(req: http.IncomingMessage, method: string): boolean {
  if (method === 'GET' || method === 'HEAD') return false;
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

async function send(res: http.ServerResponse, response: HttpResponse): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  const cookies = response.cookies.map((c) => `${c.name}=${c.value}`);
  if (cookies.length) headers['set-cookie'] = cookies;
  headers['content-length'] = String(body.length);
  // The same headers as the app's error contract and handlers add, for this host's own answers (404, 413, 500).
  for (const [name, value] of Object.entries(STANDARD_HEADERS)) headers[name.toLowerCase()] ??= value;
  // A body the handler left unread (over its limit, or not wanted) is not read on: the connection closes instead.
  if (!res.req.complete) headers.connection = 'close';
  res.writeHead(response.status, headers);
  res.end(body);
}

function sendJson(res: http.ServerResponse, init: HttpResponseInit): Promise<void> {
  return send(res, new HttpResponse(init));
}

function isClientGone(req: http.IncomingMessage, err?: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return (req.destroyed && !req.complete) || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}

export function startHttpServer(
  functions: RegisteredFunction[],
  port: number,
  logger: HostLogger,
  limits: Partial<HttpServerLimits> = {},
): Promise<LocalHttpServer> {
  const table = functions.map(toHttpFunction);
  const settings: HttpServerLimits = { maxConnections: getConfig().localHostMaxConnections, ...DEFAULT_TIMEOUTS, ...limits };
  // A client that hangs up mid-upload is routine (a killed script, a timeout of its own), not a host failure; a
  // burst of them must not flood the console either.
  const clientGone = rateLimitedWarning(logger, 10_000);

  // Closing, no connection is kept alive: Node goes on serving requests that arrive on an open keep-alive
  // connection after close(), so a client that keeps sending (a load test, a replay) would hold the server, and the
  // flush that follows it, forever. Every answer not yet sent says `Connection: close`, and Node closes its
  // connection once it is written; connections idle at that moment are closed at once.
  let closing = false;
  const answering = new Set<http.ServerResponse>();

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (closing) res.setHeader('connection', 'close');
    answering.add(res);
    res.once('close', () => answering.delete(res));
    let url: URL;
    try {
      url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    } catch {
      // A Host header or request target Node's parser lets through but the URL grammar does not (`Host: a b`).
      return await sendJson(res, errorResponse(400, 'bad_request', 'the request target or Host header is not a valid URL'));
    }
    const path = url.pathname.replace(/^\/+/, '');
    const method = (req.method ?? 'GET').toUpperCase();
    req.socket.setTimeout(0);
    try {
      if (!path.toLowerCase().startsWith(`${ROUTE_PREFIX}/`) && path.toLowerCase() !== ROUTE_PREFIX) {
        return await sendJson(res, errorResponse(404, 'not_found', `No function serves ${url.pathname}`));
      }
      const routePath = path.slice(ROUTE_PREFIX.length);
      const candidates = table.map((f) => ({ f, params: f.route.match(routePath) })).filter((c) => c.params);
      const hit = candidates.find((c) => !c.f.methods || c.f.methods.includes(method));
      if (!hit) {
        return candidates.length
          ? await sendJson(res, errorResponse(405, 'method_not_allowed', `${method} is not allowed on ${url.pathname}`))
          : await sendJson(res, errorResponse(404, 'not_found', `No function serves ${url.pathname}`));
      }
      if (Number(req.headers['content-length'] ?? 0) > HOST_MAX_BODY_BYTES) {
        return await sendJson(res, errorResponse(413, 'payload_too_large', `Request body exceeds ${HOST_MAX_BODY_BYTES} bytes`));
      }
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
      }
      // What the Functions worker itself builds with HTTP streaming on: an HttpRequest over a fetch Request whose
      // body is the live stream. `nativeRequest` is the library's own init field, absent from its public type.
      const nativeRequest = new Request(url, {
        method,
        headers,
        ...(hasBody(req, method) ? { body: bodyStream(req), duplex: 'half' } : {}),
      });
      const request = new HttpRequest({
        method,
        url: url.toString(),
        headers,
        query: Object.fromEntries(url.searchParams),
        params: hit.params,
        nativeRequest,
      } as HttpRequestInit);
      const { fn } = hit.f;
      const context = new InvocationContext({
        invocationId: randomUUID(),
        functionName: fn.name,
        logHandler: invocationLogHandler(logger, fn.name),
        triggerMetadata: {},
      });
      const started = performance.now();
      let result: unknown;
      try {
        result = await fn.handler(request, context);
      } catch (err) {
        // The Azure host answers an unhandled exception with a bare 500; handlers map their own errors first.
        logger.error(`${fn.name} threw`, err);
        return await sendJson(res, errorResponse(500, 'internal', 'Internal error; see the function logs for details'));
      }
      const response = result instanceof HttpResponse ? result : new HttpResponse(result ?? { status: 204 });
      if (isClientGone(req)) {
        clientGone(`${method} ${url.pathname}: the client closed the connection before its request was complete`);
        return;
      }
      await send(res, response);
      logger.debug(`${method} ${url.pathname} -> ${response.status} in ${(performance.now() - started).toFixed(1)} ms`);
    } catch (err) {
      if (isClientGone(req, err)) {
        clientGone(`${method} ${url.pathname}: the client closed the connection (${(err as Error).message})`);
        res.destroy();
        return;
      }
      logger.error(`request ${method} ${url.pathname} failed in the host`, err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json', ...STANDARD_HEADERS });
      res.end(JSON.stringify(errorResponse(500, 'internal', 'Host error').jsonBody));
    }
  };
  // The handler answers its own errors (the catch above); Node does not look at what a request listener returns.
  const server = http.createServer(
    {
      headersTimeout: settings.headersTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      keepAliveTimeout: settings.keepAliveTimeoutMs,
      // How often the two request timeouts are checked (Node's default, 30 s, would let a short timeout overrun).
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(settings.headersTimeoutMs / 4))),
    },
    (req, res) => void handle(req, res),
  );
  server.maxConnections = settings.maxConnections;
  // headersTimeout covers a request once its first bytes arrive; a connection that never sends any is bounded here.
  // The clock stops with the first request, whose handler may take minutes (an in-process drift run); between
  // requests keepAliveTimeout applies.
  server.on('connection', (socket: net.Socket) => socket.setTimeout(settings.headersTimeoutMs, () => socket.destroy()));
  // A flood is exactly when each refused socket must not cost a log line.
  const refused = rateLimitedWarning(logger, 60_000);
  server.on('drop', () => refused(`connection refused: ${settings.maxConnections} connections are open (LOCAL_HOST_MAX_CONNECTIONS)`));

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const actual = (server.address() as AddressInfo).port;
      resolve({
        url: `http://localhost:${actual}/${ROUTE_PREFIX}`,
        port: actual,
        close: () =>
          new Promise<void>((done) => {
            closing = true;
            for (const res of answering) if (!res.headersSent) res.setHeader('connection', 'close');
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}
