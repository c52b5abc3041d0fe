// The HTTP functions in Azure (WORKFLOW_BACKEND=durable): the promotion goes to Durable Functions through the
// invocation's Durable client, and a missing client is a configuration error, never a quiet in-process run. The durable-functions 3.x DurableClient talks HTTP to the Durable extension; here a local
// server plays that extension's HTTP API (instances/, orchestrators/{name}/{id}, instances/{id}/raiseEvent/{event},
// status JSON with name, instanceId, runtimeStatus, customStatus, input, output, createdTime, lastUpdatedTime, as
// the Durable Functions "HTTP API reference" documents them). The extension itself only runs inside the Functions host.
import { HttpRequest, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { promoteModel } from '../../../../functions/promoteModel';
import { promotionDecision } from '../../../../functions/promotionDecision';
import { promotionStatus } from '../../../../functions/promotionStatus';
import { promotionBackend } from '../../../../shared/lifecycle/promotion/http';
import { ConfigError } from '../../../../shared/platform/config';
import { setAppEnv } from '../../../helpers/env';

interface Instance {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  customStatus: unknown;
  input: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
}

let server: http.Server;
let base: string;
const instances = new Map<string, Instance>();
const requests: Array<{ method: string; path: string; body: string }> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
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
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

let restoreEnv: () => void;
beforeEach(() => {
  restoreEnv = setAppEnv({ WORKFLOW_BACKEND: 'durable' });
});
afterEach(() => restoreEnv());

/** An invocation as the Functions host gives it to a function with a Durable client input. */
function durableContext(): InvocationContext {
  const clientInput = df.input.durableClient();
  const context = new InvocationContext({ functionName: 'test', logHandler: () => undefined, options: { extraInputs: [clientInput] } });
  context.extraInputs.set(clientInput, {
    taskHubName: 'spamdetection',
    creationUrls: {},
    managementUrls: {},
    baseUrl: base,
    requiredQueryStringParameters: '',
    rpcBaseUrl: base,
  });
  return context;
}

test('WORKFLOW_BACKEND alone picks the backend; durable without a Durable client is an error, not an in-process run', async () => {
  expect(promotionBackend(durableContext()).kind).toBe('durable');
  expect(() => promotionBackend(new InvocationContext({ functionName: 'promoteModel' }))).toThrow(ConfigError);
  expect(() => promotionBackend(new InvocationContext({ functionName: 'promoteModel' }))).toThrow(
    /WORKFLOW_BACKEND="durable".*function promoteModel was invoked without one/,
  );
  // Through the HTTP function: 503 naming the setting, and nothing started anywhere.
  const before = requests.length;
  const res = (await promoteModel(
    new HttpRequest({ method: 'POST', url: 'https://app.example/api/models/1.1.0/promote', params: { version: '1.1.0' } }),
    new InvocationContext({ functionName: 'promoteModel', logHandler: () => undefined }),
  )) as { status: number; jsonBody: { error: { code: string; message: string } } };
  expect(res.status).toBe(503);
  expect(res.jsonBody.error).toMatchObject({ code: 'misconfigured', message: expect.stringContaining('WORKFLOW_BACKEND') });
  expect(requests.length).toBe(before);

  const restore = setAppEnv({ WORKFLOW_BACKEND: 'in-process' });
  try {
    // In-process even where the host binds a client: the setting decides.
    expect(promotionBackend(durableContext()).kind).toBe('in-process');
    expect(promotionBackend(new InvocationContext({ functionName: 'promoteModel' })).kind).toBe('in-process');
  } finally {
    restore();
  }
});

test('start, status, approve and 404 go through the Durable extension', async () => {
  const started = (await promoteModel(
    new HttpRequest({
      method: 'POST',
      url: 'https://app.example/api/models/1.1.0/promote',
      params: { version: '1.1.0' },
      headers: { 'x-ms-client-principal-name': 'alice@example.org' },
    }),
    durableContext(),
  )) as { status: number; jsonBody: { id: string } };
  expect(started.status).toBe(202);
  const id = started.jsonBody.id;
  expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
    'GET instances/?runtimeStatus=Running,Pending',
    `POST orchestrators/promotionOrchestrator/${id}`,
  ]);
  expect(JSON.parse(requests[1].body)).toMatchObject({
    promotionId: id,
    version: '1.1.0',
    requestedBy: 'alice@example.org',
    model: 'spam-detector',
  });

  // A second start while the first one is pending is refused.
  const second = await promoteModel(
    new HttpRequest({ method: 'POST', url: 'https://app.example/api/models/1.2.0/promote', params: { version: '1.2.0' } }),
    durableContext(),
  );
  expect(second.status).toBe(409);

  // Not at the approval step yet: deciding is a conflict, and nothing is raised.
  instances.get(id)!.runtimeStatus = 'Running';
  instances.get(id)!.customStatus = { step: 'smoke evaluation', version: '1.1.0' };
  const early = await promotionDecision(
    new HttpRequest({ method: 'POST', url: `https://app.example/api/promotions/${id}/approve`, params: { id, decision: 'approve' } }),
    durableContext(),
  );
  expect(early.status).toBe(409);

  instances.get(id)!.customStatus = { step: 'awaiting approval', version: '1.1.0' };
  const approved = await promotionDecision(
    new HttpRequest({
      method: 'POST',
      url: `https://app.example/api/promotions/${id}/approve`,
      params: { id, decision: 'approve' },
      headers: { 'content-type': 'application/json' },
      body: { string: JSON.stringify({ by: 'bob', comment: 'ship it' }) },
    }),
    durableContext(),
  );
  expect(approved.status).toBe(202);
  const raised = requests.find((r) => r.path === `instances/${id}/raiseEvent/approval`)!;
  expect(JSON.parse(raised.body)).toMatchObject({ approved: true, by: 'bob', comment: 'ship it' });

  instances.get(id)!.runtimeStatus = 'Completed';
  instances.get(id)!.output = { outcome: 'promoted', version: '1.1.0' };
  const status = (await promotionStatus(
    new HttpRequest({ method: 'GET', url: `https://app.example/api/promotions/${id}`, params: { id } }),
    durableContext(),
  )) as { status: number; jsonBody: any };
  expect(status.jsonBody).toMatchObject({ id, runtimeStatus: 'Completed', record: { outcome: 'promoted' } });

  const unknown = await promotionDecision(
    new HttpRequest({
      method: 'POST',
      url: 'https://app.example/api/promotions/promotion-nope/reject',
      params: { id: 'promotion-nope', decision: 'reject' },
    }),
    durableContext(),
  );
  expect(unknown.status).toBe(404);
});
