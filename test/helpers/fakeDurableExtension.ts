// The Durable extension's HTTP API, as the durable-functions 3.x DurableClient calls it from a starter function
// (instances/, orchestrators/{name}/{id}, instances/{id}, instances/{id}/raiseEvent/{event}; status JSON with name,
// instanceId, runtimeStatus, customStatus, input, output, createdTime, lastUpdatedTime, as the Durable Functions
// "HTTP API reference" documents them), played by a local server: the extension itself only runs inside the
// Functions host. Tests set an instance's state by hand to stand for the orchestration's progress.
import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import http from 'node:http';
import { AddressInfo } from 'node:net';

export interface FakeInstance {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  customStatus: unknown;
  input: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
}

export interface FakeDurableExtension {
  readonly instances: Map<string, FakeInstance>;
  /** Every request, in order: method, path under durabletask/ with its query, body. */
  readonly requests: Array<{ method: string; path: string; body: string }>;
  /** An invocation as the Functions host gives it to a function with a Durable client input bound to this extension. */
  context(functionName?: string): InvocationContext;
  close(): Promise<void>;
}

export async function startFakeDurableExtension(): Promise<FakeDurableExtension> {
  const instances = new Map<string, FakeInstance>();
  const requests: FakeDurableExtension['requests'] = [];
  let base = '';
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname.replace(/^\/durabletask\//, '');
      requests.push({ method: req.method ?? '', path: `${path}${url.search}`, body });
      const send = (status: number, json?: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(json === undefined ? '' : JSON.stringify(json));
      };
      let m: RegExpExecArray | null;
      if (req.method === 'GET' && path === 'instances/') {
        const wanted = (url.searchParams.get('runtimeStatus') ?? '').split(',').filter(Boolean);
        return send(
          200,
          [...instances.values()].filter((i) => !wanted.length || wanted.includes(i.runtimeStatus)),
        );
      }
      if (req.method === 'POST' && (m = /^orchestrators\/([^/]+)\/([^/]+)$/.exec(path))) {
        const now = new Date().toISOString();
        instances.set(m[2], {
          name: m[1],
          instanceId: m[2],
          runtimeStatus: 'Pending',
          customStatus: null,
          input: JSON.parse(body),
          output: null,
          createdTime: now,
          lastUpdatedTime: now,
        });
        return send(202, { id: m[2], statusQueryGetUri: `${base}instances/${m[2]}` });
      }
      if (req.method === 'GET' && (m = /^instances\/([^/]+)$/.exec(path))) {
        const instance = instances.get(m[1]);
        return instance ? send(200, instance) : send(404);
      }
      if (req.method === 'POST' && (m = /^instances\/([^/]+)\/raiseEvent\/([^/]+)$/.exec(path))) {
        return instances.has(m[1]) ? send(202) : send(404);
      }
      send(400, { message: `not implemented: ${req.method} ${path}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/durabletask/`;
  return {
    instances,
    requests,
    context(functionName = 'test') {
      const clientInput = df.input.durableClient();
      const context = new InvocationContext({ functionName, logHandler: () => undefined, options: { extraInputs: [clientInput] } });
      context.extraInputs.set(clientInput, {
        taskHubName: 'spamdetection',
        creationUrls: {},
        managementUrls: {},
        baseUrl: base,
        requiredQueryStringParameters: '',
        rpcBaseUrl: base,
      });
      return context;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
