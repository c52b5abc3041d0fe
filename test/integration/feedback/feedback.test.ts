// The feedback routes in-process against a private Azurite: validation 400s, resubmission (one record, latest
// label), the batch form, erase by request id (gone from Blob and from the buffer), a Blob outage (Azurite stopped:
// nothing lost), and the summary joined with the inference log.
import Module from 'node:module';
import { FunctionRegistry, installFunctionsCore } from '../../../tools/devhost/functionsCore';
import { CONTAINERS, feedbackDayPrefix } from '../../../shared/platform/blobLayout';
import { getContainerClient } from '../../../shared/platform/blobStorage';
import { newWriterId } from '../../../shared/platform/batchedBlobWriter';
import { closeParquetEngine } from '../../../shared/logs/parquet';
import { eraseFeedback, readFeedback } from '../../../shared/feedback/feedbackStore';
import { summarizeFeedback } from '../../../shared/feedback/feedbackSummary';
import { FeedbackWriter, feedbackBatchUploader, getFeedbackWriter } from '../../../shared/feedback/feedbackWriter';
import { parseFeedbackLines } from '../../../shared/feedback/feedbackRecord';
import { syntheticRecords } from '../../../tools/bench/syntheticRecords';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { setAppEnv } from '../../helpers/env';
import { logRecords } from '../../helpers/logStorage';

const registry = new FunctionRegistry();
installFunctionsCore(registry);
const core = (Module as unknown as { _cache: Record<string, { exports: unknown }> })._cache['@azure/functions-core'].exports;
jest.doMock('@azure/functions-core', () => core, { virtual: true });
/* eslint-disable @typescript-eslint/no-require-imports */
const { HttpRequest, InvocationContext } = require('@azure/functions') as typeof import('@azure/functions');
const { feedback } = require('../../../functions/feedback') as typeof import('../../../functions/feedback');
const { feedbackErase } = require('../../../functions/feedbackErase') as typeof import('../../../functions/feedbackErase');
const { feedbackSummary } = require('../../../functions/feedbackSummary') as typeof import('../../../functions/feedbackSummary');

let azurite: TestAzurite;
let restoreEnv: () => void;

beforeAll(async () => {
  azurite = await startTestAzurite();
  restoreEnv = setAppEnv({
    AzureWebJobsStorage: azurite.connectionString,
    BLOB_TIMEOUT_MS: '2000',
    FEEDBACK_FLUSH_INTERVAL_MS: '100',
    LOG_RETRY_MAX_DELAY_MS: '200',
  });
  await getContainerClient(CONTAINERS.feedback).createIfNotExists();
  await getContainerClient(CONTAINERS.inferenceLogs).createIfNotExists();
});

afterAll(async () => {
  await getFeedbackWriter().close(2000, 500);
  await closeParquetEngine();
  restoreEnv();
  await azurite.dispose();
});

const structured = (n: number) => ({
  subject: `offer ${n}`,
  from: `promo${n}@deals.example`,
  to: 'you@example.com',
  body: `FREE money ${n}`,
});
const raw = (n: number) => ({ raw: `From: friend${n}@example.org\r\nTo: you@example.com\r\nSubject: lunch ${n}\r\n\r\nlunch at ${n}?` });

function post(body: unknown, contentType = 'application/json') {
  return feedback(
    new HttpRequest({
      method: 'POST',
      url: 'http://localhost/api/feedback',
      headers: { 'content-type': contentType },
      body: { string: typeof body === 'string' ? body : JSON.stringify(body) },
    }),
    new InvocationContext(),
  );
}

async function storedRecords() {
  const container = getContainerClient(CONTAINERS.feedback);
  const out = [];
  for await (const item of container.listBlobsFlat({ prefix: feedbackDayPrefix() })) {
    out.push(...parseFeedbackLines(await container.getBlobClient(item.name).downloadToBuffer()).map((r) => ({ ...r, blob: item.name })));
  }
  return out;
}

describe('POST /api/feedback', () => {
  it('answers the clear 400s, 413 and 415 of predict', async () => {
    const cases: [unknown, number, string, RegExp][] = [
      [{ label: 'spam' }, 400, 'validation_error', /^email: required/],
      [{ label: 'maybe', email: raw(1) }, 400, 'validation_error', /^label: /],
      [{ label: 'spam', email: { subject: 's', from: 'f', to: 't' } }, 400, 'validation_error', /^email\.body: /],
      [{ instances: [] }, 400, 'validation_error', /empty/],
      [{ instances: Array.from({ length: 65 }, () => ({ label: 'spam', email: raw(1) })) }, 400, 'batch_too_large', /at most 64/],
      ['{not json', 400, 'invalid_json', /not valid JSON/],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await post(body);
      expect({ body, status: res.status, code: (res.jsonBody as { error: { code: string } }).error.code }).toEqual({ body, status, code });
      expect((res.jsonBody as { error: { message: string } }).error.message).toMatch(message);
    }
    expect((await post({ label: 'spam', email: raw(1) }, 'text/plain')).status).toBe(415);
    expect((await post({ label: 'spam', email: { raw: 'x'.repeat(1_100_000) } })).status).toBe(413);
  });

  it('a resubmitted message is one record in the dataset, with its latest label; the batch form too', async () => {
    const first = await post({ label: 'spam', email: structured(1), request_id: 'req-dup' });
    expect(first.status).toBe(200);
    const ack = first.jsonBody as { message_key: string; label: string; request_id: string };
    expect(ack).toMatchObject({ label: 'spam', request_id: 'req-dup', message_key: expect.stringMatching(/^[0-9a-f]{64}$/) });
    await new Promise((r) => setTimeout(r, 5));
    const batch = await post({
      instances: [
        { label: 'ham', email: structured(1), request_id: 'req-dup' },
        { label: 'spam', email: raw(2) },
        { label: 'ham', email: raw(3) },
      ],
    });
    expect(batch.status).toBe(200);
    expect(batch.jsonBody).toMatchObject({
      count: 3,
      results: [{ message_key: ack.message_key, label: 'ham' }, { label: 'spam' }, { label: 'ham' }],
    });
    await getFeedbackWriter().flush();

    const stored = await storedRecords();
    expect(stored.filter((r) => r.message_key === ack.message_key)).toHaveLength(2);
    for (const r of stored) expect(r.blob).toMatch(new RegExp(`^records/date=${r.received_at.slice(0, 10)}/`));
    const dataset = await readFeedback();
    expect(dataset.filter((r) => r.message_key === ack.message_key)).toEqual([
      expect.objectContaining({ label: 'ham', form: 'structured', request_id: 'req-dup' }),
    ]);
    expect(dataset).toHaveLength(3);
    // `until` is exclusive and reads the dataset as it was.
    const before = await readFeedback({ until: new Date(Date.parse(dataset.find((r) => r.message_key === ack.message_key)!.received_at)) });
    expect(before.find((r) => r.message_key === ack.message_key)?.label).toBe('spam');
  });

  it('a label given earlier counts from labelled_at: its day partition and the cut-off follow it; none from the future', async () => {
    const labelledAt = '2002-09-12T06:00:00.000Z';
    const res = await post({
      instances: [
        { label: 'spam', email: raw(500), labelled_at: '2002-09-12T08:00:00+02:00' },
        { label: 'ham', email: raw(501) },
      ],
    });
    expect(res.status).toBe(200);
    await getFeedbackWriter().flush();
    const keys = (res.jsonBody as { results: { message_key: string }[] }).results.map((r) => r.message_key);
    const stored = await storedRecords();
    const early = stored.find((r) => r.message_key === keys[0])!;
    expect(early).toMatchObject({ received_at: labelledAt, blob: expect.stringMatching(/^records\/date=2002-09-12\//) });
    expect(early.feedback_id.startsWith('20020912T060000000Z-')).toBe(true);
    const asOf = (iso: string) => readFeedback({ until: new Date(iso) }).then((d) => d.map((r) => r.message_key));
    expect(await asOf('2002-09-12T06:00:00.001Z')).toEqual([keys[0]]);
    expect(await asOf(labelledAt)).toEqual([]);
    expect((await readFeedback()).map((r) => r.message_key)).toEqual(expect.arrayContaining(keys));

    const future = new Date(Date.now() + 3600_000).toISOString();
    const refused = await post({
      instances: [
        { label: 'ham', email: raw(502) },
        { label: 'ham', email: raw(503), labelled_at: future },
      ],
    });
    expect(refused.status).toBe(400);
    expect((refused.jsonBody as { error: { message: string } }).error.message).toMatch(/^instances\[1\]\.labelled_at lies in the future/);
  });

  it('loses nothing while Blob is down: accepted feedback is written once it is back', async () => {
    const writer = getFeedbackWriter();
    const before = (await storedRecords()).length;
    await azurite.stop();
    try {
      for (let i = 0; i < 40; i++)
        expect((await post({ label: i % 2 ? 'spam' : 'ham', email: raw(1000 + i), request_id: `outage-${i}` })).status).toBe(200);
      const deadline = Date.now() + 30_000;
      while (writer.stats().failed_uploads === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(writer.stats()).toMatchObject({ failing: true, dropped: 0 });
    } finally {
      await azurite.restart();
    }
    expect(await writer.flush(30_000)).toMatchObject({ buffered: 0, dropped: 0, failing: false });
    const stored = await storedRecords();
    expect(stored.length - before).toBe(40);
    expect(new Set(stored.filter((r) => r.request_id?.startsWith('outage-')).map((r) => r.request_id)).size).toBe(40);
  }, 90_000);
});

describe('DELETE /api/feedback/{request_id}', () => {
  it('removes every stored and buffered record of the request id, and says how many and which days', async () => {
    const writer = new FeedbackWriter({
      maxBufferedRecords: 1000,
      maxBatchRecords: 2,
      flushIntervalMs: 60_000,
      retryBaseDelayMs: 10,
      retryMaxDelayMs: 50,
      maxConcurrentUploads: 2,
      writerId: newWriterId(),
      upload: feedbackBatchUploader,
    });
    writer.accept(
      [
        { label: 'spam', email: raw(1), requestId: 'erase-me' },
        { label: 'ham', email: raw(2), requestId: 'keep-me' },
      ],
      new Date('2026-02-01T10:00:00Z'),
    );
    writer.accept([{ label: 'spam', email: raw(3), requestId: 'erase-me' }], new Date('2026-02-02T10:00:00Z'));
    writer.accept([{ label: 'spam', email: raw(4), requestId: 'erase-me' }], new Date('2026-02-03T10:00:00Z'));
    await writer.flush();
    // The process's writer holds one of them still in its buffer.
    const live = await post({ label: 'spam', email: raw(5), request_id: 'erase-me' });
    expect(live.status).toBe(200);

    const res = await feedbackErase(
      new HttpRequest({ method: 'DELETE', url: 'http://localhost/api/feedback/erase-me', params: { request_id: 'erase-me' } }),
      new InvocationContext(),
    );
    expect(res.status).toBe(200);
    expect(res.jsonBody).toMatchObject({
      request_id: 'erase-me',
      removed: 4,
      days: ['2026-02-01', '2026-02-02', '2026-02-03'],
      buffered: 1,
    });
    await getFeedbackWriter().flush();
    const stored = await storedRecords();
    expect(stored.filter((r) => r.request_id === 'erase-me')).toEqual([]);
    expect(stored.filter((r) => r.request_id === 'keep-me')).toHaveLength(1);
    // A blob left empty is deleted, not kept empty.
    const names = stored.map((r) => r.blob);
    expect(names.some((n) => n.startsWith('records/date=2026-02-02/') || n.startsWith('records/date=2026-02-03/'))).toBe(false);

    const bad = await feedbackErase(
      new HttpRequest({ method: 'DELETE', url: 'http://localhost/api/feedback/x', params: { request_id: 'not valid!' } }),
      new InvocationContext(),
    );
    expect(bad.status).toBe(400);
  });

  it('reaches a batch whose upload landed but whose answer was lost, and keeps a later retry from landing', async () => {
    // The first attempt stores the batch and then fails as a lost answer would; the erase meets the batch waiting
    // for its retry, so the records are both in Blob and in the buffer.
    let attempts = 0;
    const writer = new FeedbackWriter({
      maxBufferedRecords: 1000,
      maxBatchRecords: 2,
      flushIntervalMs: 60_000,
      retryBaseDelayMs: 60_000,
      retryMaxDelayMs: 60_000,
      maxConcurrentUploads: 1,
      writerId: newWriterId(),
      upload: async (name, body) => {
        await feedbackBatchUploader(name, body);
        if (++attempts === 1) throw new Error('socket hang up');
      },
    });
    writer.accept(
      [
        { label: 'spam', email: raw(6), requestId: 'lost-answer' },
        { label: 'ham', email: raw(7), requestId: 'bystander' },
      ],
      new Date('2026-02-04T10:00:00Z'),
    );
    // Two records fill a batch, so its upload starts at once; it then waits a minute for its retry.
    await new Promise((r) => setTimeout(r, 300));
    expect(writer.stats()).toMatchObject({ failed_uploads: 1, buffered: 2 });

    const result = await eraseFeedback('lost-answer', writer);
    expect(result).toMatchObject({ removed: 1, buffered: 1 });
    await writer.flush();
    const stored = (await storedRecords()).filter((r) => r.blob.startsWith('records/date=2026-02-04/'));
    // The bystander may now be stored twice (the landed blob keeps it, its retry wrote it anew); the dataset has it once.
    expect(new Set(stored.map((r) => r.request_id))).toEqual(new Set(['bystander']));
    expect((await readFeedback()).filter((r) => r.request_id === 'bystander')).toHaveLength(1);
  });
});

describe('GET /api/feedback/summary', () => {
  it('joins feedback with the logged predictions by request id and counts disagreements by environment and version', async () => {
    const start = new Date(Date.now() - 2 * 3600_000);
    const production = [...syntheticRecords(20, { env: 'production', start, stepMs: 1000, seed: 1, idPrefix: 'sum-p' })];
    const staging = [...syntheticRecords(10, { env: 'staging', start, stepMs: 1000, seed: 2, idPrefix: 'sum-s' })];
    await logRecords([...production, ...staging]);
    const opposite = (p: string) => (p === 'spam' ? 'ham' : 'spam');
    const items = [
      // production: 3 agree, 2 disagree
      ...production.slice(0, 3).map((r, i) => ({ label: r.prediction, email: raw(2000 + i), request_id: r.request_id })),
      ...production.slice(3, 5).map((r, i) => ({ label: opposite(r.prediction), email: raw(2100 + i), request_id: r.request_id })),
      // staging: 1 disagrees
      { label: opposite(staging[0].prediction), email: raw(2200), request_id: staging[0].request_id },
      // no prediction logged under that id, and no id at all
      { label: 'spam', email: raw(2300), request_id: 'never-predicted' },
      { label: 'ham', email: raw(2301) },
    ];
    const since = new Date();
    expect((await post({ instances: items })).status).toBe(200);
    await getFeedbackWriter().flush();

    const res = await feedbackSummary(
      new HttpRequest({
        method: 'GET',
        url: `http://localhost/api/feedback/summary?since=${encodeURIComponent(since.toISOString())}&lookback_hours=24`,
      }),
      new InvocationContext(),
    );
    expect(res.status).toBe(200);
    const disagreeing = (rs: typeof production) => rs.filter((r) => r.prediction === 'spam').length;
    expect(res.jsonBody).toMatchObject({
      feedback: 8,
      with_request_id: 7,
      linked: 6,
      disagreements: 3,
      by_model: [
        {
          environment: 'production',
          model_name: 'spam-detector',
          model_version: '1',
          linked: 5,
          disagreements: 2,
          disagreement_rate: 0.4,
          false_positives: disagreeing(production.slice(3, 5)),
        },
        { environment: 'staging', model_name: 'spam-detector', model_version: '2', linked: 1, disagreements: 1, disagreement_rate: 1 },
      ],
    });
    // The same join without the route, on given records.
    const direct = await summarizeFeedback({ since, lookbackMs: 24 * 3600_000, records: await readFeedback() });
    expect(direct.linked).toBe(6);

    const missing = await feedbackSummary(
      new HttpRequest({ method: 'GET', url: 'http://localhost/api/feedback/summary' }),
      new InvocationContext(),
    );
    expect(missing.status).toBe(400);
  }, 60_000);
});
