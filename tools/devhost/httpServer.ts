// HTTP triggers on the local host: http://host:port/api/{route}, as the Functions host serves them.
// Auth levels are not enforced locally (Core Tools does the same); Azure enforces them.
import { HttpRequest, HttpResponse, HttpResponseInit, InvocationContext } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { errorResponse } from '../../shared/platform/errors';
import { RegisteredFunction } from './functionsCore';
import { compileRoute, CompiledRoute } from './routes';
import { HostLogger, invocationLogHandler } from './logging';

/** The Functions host refuses bodies above 100 MB; the handlers enforce their own, smaller limits. */
const HOST_MAX_BODY_BYTES = 100 * 1024 * 1024;
const ROUTE_PREFIX = 'api';

interface HttpFunction {
  fn: RegisteredFunction;
  route: CompiledRoute;
  methods: string[] | undefined;
}

export interface LocalHttpServer {
  readonly url: string;
  readonly port: number;
  /** Stop accepting connections and wait for requests in flight. */
  close(): Promise<void>;
}

function toHttpFunction(fn: RegisteredFunction): HttpFunction {
  const route = typeof fn.trigger.route === 'string' ? fn.trigger.route : fn.name;
  const methods = Array.isArray(fn.trigger.methods) ? (fn.trigger.methods as string[]).map((m) => m.toUpperCase()) : undefined;
  return { fn, route: compileRoute(route), methods };
}

async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
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
  res.writeHead(response.status, headers);
  res.end(body);
}

function sendJson(res: http.ServerResponse, init: HttpResponseInit): Promise<void> {
  return send(res, new HttpResponse(init));
}

export function startHttpServer(functions: RegisteredFunction[], port: number, logger: HostLogger): Promise<LocalHttpServer> {
  const table = functions.map(toHttpFunction);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    const path = url.pathname.replace(/^\/+/, '');
    const method = (req.method ?? 'GET').toUpperCase();
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
      const body = await readBody(req, HOST_MAX_BODY_BYTES);
      if (body === 'too-large') {
        res.setHeader('connection', 'close');
        return await sendJson(res, errorResponse(413, 'payload_too_large', `Request body exceeds ${HOST_MAX_BODY_BYTES} bytes`));
      }
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
      }
      const request = new HttpRequest({
        method,
        url: url.toString(),
        headers,
        query: Object.fromEntries(url.searchParams),
        params: hit.params,
        body: body.length ? { bytes: body } : undefined,
      });
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
      await send(res, response);
      logger.debug(`${method} ${url.pathname} -> ${response.status} in ${(performance.now() - started).toFixed(1)} ms`);
    } catch (err) {
      logger.error(`request ${method} ${url.pathname} failed in the host`, err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify(errorResponse(500, 'internal', 'Host error').jsonBody));
    }
  };
  // The handler answers its own errors (the catch above); Node does not look at what a request listener returns.
  const server = http.createServer((req, res) => void handle(req, res));
  server.keepAliveTimeout = 65_000;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const actual = (server.address() as AddressInfo).port;
      resolve({
        url: `http://localhost:${actual}/${ROUTE_PREFIX}`,
        port: actual,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}
