// The HTTP functions in Azure (WORKFLOW_BACKEND=durable): the promotion goes to Durable Functions through the
// invocation's Durable client, and a missing client is a configuration error, never a quiet in-process run. A local
// server plays the Durable extension's HTTP API (test/helpers/fakeDurableExtension.ts).
import { HttpRequest, InvocationContext } from '@azure/functions';
import { promoteModel } from '../../../../functions/promoteModel';
import { promotionDecision } from '../../../../functions/promotionDecision';
import { promotionStatus } from '../../../../functions/promotionStatus';
import { promotionBackend } from '../../../../shared/lifecycle/promotion/http';
import { ConfigError } from '../../../../shared/platform/config';
import { setAppEnv } from '../../../helpers/env';
import { FakeDurableExtension, startFakeDurableExtension } from '../../../helpers/fakeDurableExtension';

let extension: FakeDurableExtension;
let instances: FakeDurableExtension['instances'];
let requests: FakeDurableExtension['requests'];

beforeAll(async () => {
  extension = await startFakeDurableExtension();
  ({ instances, requests } = extension);
});

afterAll(() => extension.close());

let restoreEnv: () => void;
beforeEach(() => {
  restoreEnv = setAppEnv({ WORKFLOW_BACKEND: 'durable' });
});
afterEach(() => restoreEnv());

const durableContext = () => extension.context();

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
