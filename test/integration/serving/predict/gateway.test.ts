// The predict gateway end to end over real HTTP: the local host as `npm start` runs it (child process), two local
// V2 model servers (child processes, one per environment, the staging one serving a copy of the committed model
// under another version name), a private Azurite for the inference log, and the real Redis for Feast features.
import { BlobServiceClient } from '@azure/storage-blob';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { freePort } from '../../../../tools/devhost/azurite';
import { CONTAINERS, modelPrefix } from '../../../../shared/platform/blobLayout';
import { loadCorpus, timeForwardSplit } from '../../../../training/corpus';
import { SUMMARY_MAX_AGE_MS } from '../../../../shared/platform/appHealth';
import { FeatureStore } from '../../../../shared/serving/featureStore/featureStore';
import { FEATURE_NAMES, UNKNOWN_SENDER } from '../../../../shared/serving/features/featureList';
import { computeFeatures, parseEmail } from '../../../../shared/serving/features/transformer';
import {
  committedModelDir,
  COMMITTED_MODEL_VERSION,
  loadModelDirectory,
  MODEL_FILES,
  MODEL_NAME,
} from '../../../../shared/model/modelArtifacts';
import { parseRawLog } from '../../../../shared/logs/rawLogFormat';
import { senderDomainHash } from '../../../../shared/serving/predict/senderHash';
import { startTestAzurite, TestAzurite } from '../../../helpers/azurite';
import { RunningHost, startHostProcess, waitFor } from '../../../helpers/localHost';
import { PROMOTION_MAX_BODY_BYTES } from '../../../../shared/lifecycle/promotion/http';
import {
  copyModelAsVersion,
  postJson,
  RestartableModelServer,
  STAGING_TEST_VERSION,
  startRestartableModelServer,
} from '../../../helpers/gatewayStack';
import { dropFeastProject } from '../../../helpers/feastProject';

const PROJECT = `gw_test_${randomUUID().slice(0, 8)}`;
const HASH_KEY = `test-key-${randomUUID()}`;
const MAX_BODY = 65536;
const MAX_BATCH = 8;

let azurite: TestAzurite;
let production: RestartableModelServer;
let staging: RestartableModelServer;
let stagingModel: { dir: string; dispose(): void };
let host: RunningHost;
let store: FeatureStore;
let predictUrl: string;

/** The operators' health report (versions, breaker state, counters). */
async function getHealth(base: string): Promise<any> {
  return (await fetch(`${base}/health/details`)).json();
}

function email(subject: string, body: string, from = 'Alice <alice@example.org>') {
  return { subject, from, to: 'bob@example.com', body };
}

beforeAll(async () => {
  azurite = await startTestAzurite();
  stagingModel = copyModelAsVersion(STAGING_TEST_VERSION);
  [production, staging] = await Promise.all([
    startRestartableModelServer(committedModelDir(), 'production'),
    startRestartableModelServer(stagingModel.dir, 'staging'),
  ]);
  store = new FeatureStore({ url: 'redis://127.0.0.1:6379', project: PROJECT, timeoutMs: 1000 });
  host = await startHostProcess({
    env: {
      AzureWebJobsStorage: azurite.connectionString,
      LOCAL_MODEL_SERVERS: 'false', // the test runs the V2 servers itself, so that it can stop one
      KSERVE_PRODUCTION_URL: production.url,
      KSERVE_STAGING_URL: staging.url,
      MODEL_DIR_STAGING: stagingModel.dir,
      KSERVE_BREAKER_FAILURES: '3',
      KSERVE_BREAKER_COOLDOWN_MS: '500',
      KSERVE_TIMEOUT_MS: '2000',
      FEAST_PROJECT: PROJECT,
      SENDER_HASH_KEY: HASH_KEY,
      PREDICT_MAX_BODY_BYTES: String(MAX_BODY),
      PREDICT_MAX_BATCH: String(MAX_BATCH),
      LOG_FLUSH_INTERVAL_MS: '200',
      LOG_RETRY_MAX_DELAY_MS: '500',
    },
  });
  predictUrl = `${host.url}/predict`;
}, 60000);

afterAll(async () => {
  await host?.stop();
  await Promise.all([production?.stop(), staging?.stop()]);
  stagingModel?.dispose();
  await dropFeastProject(PROJECT);
  await store?.close();
  await azurite?.dispose();
});

describe('predictions', () => {
  it('labels spam and ham corpus mail correctly, with the same probabilities as the model in-process', async () => {
    // Held-out mail of the training period (the validation slice), small enough for this host's body limit.
    const split = timeForwardSplit(loadCorpus());
    const fits = (m: { raw: Buffer }) => m.raw.length < MAX_BODY / 2;
    const pick = (spam: boolean) => split.validation.filter((m) => m.spam === spam && fits(m)).slice(0, 15);
    const messages = [...pick(true), ...pick(false)];
    const reference = await loadModelDirectory(committedModelDir());
    let correct = 0;
    try {
      for (const m of messages) {
        const raw = m.raw.toString('latin1');
        const res = await postJson(predictUrl, { id: m.id, raw });
        expect(res.status).toBe(200);
        expect(res.body.id).toBe(m.id);
        expect(res.body.degraded).toBe(false);
        const x = computeFeatures(await parseEmail({ raw }), reference.tokens, UNKNOWN_SENDER);
        const [, pSpam] = await reference.onnx.predict(x);
        expect(res.body.probability).toBeCloseTo(pSpam, 5);
        expect(res.body.prediction).toBe(pSpam >= reference.card.threshold.value ? 'spam' : 'ham');
        if (res.body.prediction === (m.spam ? 'spam' : 'ham')) correct++;
      }
    } finally {
      await reference.onnx.close();
    }
    console.log(`corpus mail through the gateway: ${correct}/${messages.length} labelled correctly`);
    expect(messages).toHaveLength(30);
    // The gateway gives exactly the model's answer (checked per message above); the model itself is not perfect
    // (its card reports its accuracy), so the bar here is the label of at least 90 % of the held-out mail.
    expect(correct / messages.length).toBeGreaterThanOrEqual(0.9);
  });

  it('answers a single email with the contract fields and echoes X-Request-ID', async () => {
    const res = await postJson(
      predictUrl,
      { id: 'c-1', ...email('Lunch on Friday?', 'Shall we meet at noon at the usual place?') },
      { 'X-Request-ID': 'req-single-1' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-single-1');
    expect(res.body).toEqual({
      request_id: 'req-single-1',
      id: 'c-1',
      prediction: expect.stringMatching(/^(spam|ham)$/),
      probability: expect.any(Number),
      probabilities: [expect.any(Number), expect.any(Number)],
      threshold: expect.any(Number),
      model: { name: 'spam-detector', version: COMMITTED_MODEL_VERSION },
      environment: 'production',
      degraded: false,
      latency_ms: expect.any(Number),
    });
    expect(res.body.probabilities[0] + res.body.probabilities[1]).toBeCloseTo(1, 5);
    const generated = await postJson(predictUrl, email('Hi', 'Hello'));
    expect(generated.body.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.headers.get('x-request-id')).toBe(generated.body.request_id);
  });

  it('routes X-Environment to the backend of that environment: two model versions', async () => {
    const body = email('Routing', 'Which model answers?');
    const prod = await postJson(predictUrl, body, { 'X-Environment': 'production' });
    const stag = await postJson(predictUrl, body, { 'X-Environment': 'staging' });
    const dflt = await postJson(predictUrl, body);
    expect(prod.body.model.version).toBe(COMMITTED_MODEL_VERSION);
    expect(stag.body.model.version).toBe(STAGING_TEST_VERSION);
    expect(stag.body.environment).toBe('staging');
    expect(dflt.body.environment).toBe('production');
    // Same graph under two version names: same answer, different version.
    expect(stag.body.probability).toBe(prod.body.probability);
    const health = await getHealth(host.url);
    expect(health.dependencies.kserve_production.info.versions).toEqual([COMMITTED_MODEL_VERSION]);
    expect(health.dependencies.kserve_staging.info.versions).toEqual([STAGING_TEST_VERSION]);
  });

  it('tells an anonymous caller of /api/health the states only; the versions and figures are in health/details', async () => {
    const summary = (await (await fetch(`${host.url}/health`)).json()) as any;
    const details = await getHealth(host.url);
    expect(Object.keys(summary.dependencies).sort()).toEqual(Object.keys(details.dependencies).sort());
    for (const [name, d] of Object.entries<any>(details.dependencies)) {
      expect({ name, ...summary.dependencies[name] }).toEqual({ name, status: d.status, required: d.required });
    }
    expect(JSON.stringify(summary)).not.toContain('http');
    expect(details.dependencies.kserve_production.info).toBeDefined();
    expect(details.dependencies.inference_logger.info).toBeDefined();
    // A burst of anonymous probes shares one run of the checks; two seconds later there is a new one.
    const burst = await Promise.all(
      Array.from({ length: 20 }, async () => ((await (await fetch(`${host.url}/health`)).json()) as any).time),
    );
    expect(new Set(burst).size).toBe(1);
    await new Promise((r) => setTimeout(r, SUMMARY_MAX_AGE_MS + 100));
    expect(((await (await fetch(`${host.url}/health`)).json()) as any).time).not.toBe(burst[0]);
  });

  it('answers a batch with one result per instance, in order, equal to the single answers', async () => {
    const instances = [
      email('One', 'first message'),
      { id: 'two', ...email('FREE CASH!!!', 'Act now, limited time, click here $$$') },
      email('Three', 'third'),
    ];
    const batch = await postJson(predictUrl, { instances });
    expect(batch.status).toBe(200);
    expect(batch.body.count).toBe(3);
    expect(batch.body.results.map((r: { id?: string }) => r.id)).toEqual([undefined, 'two', undefined]);
    for (let i = 0; i < 3; i++) {
      const single = await postJson(predictUrl, instances[i]);
      expect(batch.body.results[i].probability).toBe(single.body.probability);
    }
  });

  it('uses the sender features from Feast: a known spam domain reads back its stored statistics', async () => {
    const key = senderDomainHash('spammy-sender.example', HASH_KEY);
    await store.writeSenderFeatures([{ entity: key, features: { message_count_30d: 120, spam_rate_30d: 0.95 }, eventTime: new Date() }]);
    const message = email('Hello', 'Just checking in.', 'Promo <deals@Spammy-Sender.example>');
    const res = await postJson(`${host.url}/transform`, message);
    expect(res.status).toBe(200);
    expect(res.body.sender).toEqual({ known: true, sender_key: key });
    expect(res.body.features.sender_domain_spam_rate).toBeCloseTo(0.95, 6);
    expect(res.body.features.sender_domain_message_count_log).toBeCloseTo(Math.log1p(120), 5);
    expect(Object.keys(res.body.features)).toEqual([...FEATURE_NAMES]);
    const unknown = await postJson(`${host.url}/transform`, email('Hello', 'Just checking in.', 'x@never-seen.example'));
    expect(unknown.body.sender.known).toBe(false);
    expect(unknown.body.features.sender_domain_spam_rate).toBe(UNKNOWN_SENDER.spam_rate_30d);
    // The sender's statistics move the prediction (the model learned them point in time; docs/model.md): the same
    // mail from a sender of the same volume scores spammier when 95 % of its mail was spam than when 5 % was.
    const p = await postJson(predictUrl, message);
    expect(p.status).toBe(200);
    expect(p.body.degraded).toBe(false);
    const trusted = senderDomainHash('trusted-sender.example', HASH_KEY);
    await store.writeSenderFeatures([
      { entity: trusted, features: { message_count_30d: 120, spam_rate_30d: 0.05 }, eventTime: new Date() },
    ]);
    const fromTrusted = await postJson(predictUrl, email('Hello', 'Just checking in.', 'Promo <deals@trusted-sender.example>'));
    const logit = (q: number) => Math.log(q / (1 - q));
    expect(logit(p.body.probability) - logit(fromTrusted.body.probability)).toBeGreaterThan(1);
  });
});

const expectError = (res: { status: number; body: any }, status: number, code: string, message?: RegExp) => {
  expect(res.status).toBe(status);
  expect(Object.keys(res.body)).toEqual(['error']);
  expect(res.body.error.code).toBe(code);
  if (message) expect(res.body.error.message).toMatch(message);
  expect(JSON.stringify(res.body)).not.toMatch(/at .*\.js:\d+/);
};

describe('error contract: 4xx JSON, never a 500', () => {
  it('malformed JSON is 400 invalid_json', async () => {
    expectError(await postJson(predictUrl, '{"subject": "x", '), 400, 'invalid_json', /not valid JSON/);
  });

  it('a wrong content type is 415', async () => {
    const res = await fetch(predictUrl, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expectError({ status: res.status, body: await res.json() }, 415, 'unsupported_media_type', /application\/json/);
  });

  it('missing fields are 400 validation_error naming the field', async () => {
    expectError(await postJson(predictUrl, { subject: 'x', to: 'a@b.c', body: 'y' }), 400, 'validation_error', /^from: /);
    expectError(await postJson(predictUrl, {}), 400, 'validation_error');
  });

  it('wrong types are 400 validation_error naming the field', async () => {
    expectError(
      await postJson(predictUrl, { subject: 1, from: 'a@b.c', to: 'a@b.c', body: 'y' }),
      400,
      'validation_error',
      /^subject: .*expected string/,
    );
    expectError(await postJson(predictUrl, { raw: 42 }), 400, 'validation_error', /^raw: /);
    expectError(await postJson(predictUrl, [1, 2]), 400, 'validation_error');
    expectError(
      await postJson(predictUrl, { instances: [email('a', 'b'), { raw: '' }] }),
      400,
      'validation_error',
      /^instances\[1\]\.raw: /,
    );
    expectError(
      await postJson(predictUrl, { raw: 'Subject: x', encoding: 'latin1' }),
      400,
      'validation_error',
      /^encoding: .*"utf8"\|"base64"/,
    );
    expectError(
      await postJson(predictUrl, { ...email('a', 'b'), to: 5 }),
      400,
      'validation_error',
      /^to: expected an address \(a string\) or an array of addresses$/,
    );
    // A header the email would not carry is refused by name, not dropped in silence.
    expectError(
      await postJson(predictUrl, { ...email('a', 'b'), headers: { 'X Bad': 'v', subject: 'other', 'X-Mailer': 'Mutt' } }),
      400,
      'validation_error',
      /^headers\.X Bad: not a header name .*; headers\.subject: given by its own field/,
    );
    expectError(
      await postJson(predictUrl, { instances: [{ raw: 'not base64!', encoding: 'base64' }] }),
      400,
      'validation_error',
      /^instances\[0\]\.raw: raw is not valid base64/,
    );
  });

  it('a raw message in base64 is read byte for byte', async () => {
    const latin1 = Buffer.concat([
      Buffer.from('From: a@example.com\r\nSubject: caf'),
      Buffer.from([0xe9]),
      Buffer.from('\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nd\xe9j\xe0 vu\r\n', 'latin1'),
    ]);
    const res = await postJson(predictUrl, { raw: latin1.toString('base64'), encoding: 'base64' });
    expect(res.status).toBe(200);
    const transform = await postJson(`${host.url}/transform`, { raw: latin1.toString('base64'), encoding: 'base64' });
    expect(transform.status).toBe(200);
    expect(transform.body.features.subject_chars_log).toBeCloseTo(Math.log1p('café'.length), 6);
  });

  it('an oversized body is 413', async () => {
    const res = await postJson(predictUrl, email('big', 'x'.repeat(MAX_BODY + 10)));
    expectError(res, 413, 'payload_too_large', new RegExp(`${MAX_BODY} bytes`));
  });

  it('an unknown environment is 400 listing the allowed values', async () => {
    expectError(await postJson(predictUrl, email('a', 'b'), { 'X-Environment': 'dev' }), 400, 'unknown_environment', /production, staging/);
  });

  it('a batch too large is 400 batch_too_large; an empty batch is 400', async () => {
    const instances = Array.from({ length: MAX_BATCH + 1 }, () => email('a', 'b'));
    expectError(await postJson(predictUrl, { instances }), 400, 'batch_too_large', new RegExp(`at most ${MAX_BATCH}`));
    expectError(await postJson(predictUrl, { instances: [] }), 400, 'validation_error', /empty/);
  });

  it('the same errors hold for /api/transform', async () => {
    expectError(await postJson(`${host.url}/transform`, '{'), 400, 'invalid_json');
    expectError(await postJson(`${host.url}/transform`, email('a', 'b'), { 'X-Environment': 'qa' }), 400, 'unknown_environment');
  });
});

describe('the promotion routes read their bodies under the same rules (shared/platform/http.ts)', () => {
  const post = async (url: string, body: string | Buffer, contentType?: string) => {
    const res = await fetch(url, { method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body });
    return { status: res.status, body: await res.json() };
  };

  it('a body that is not typed as JSON is 415, on both promotion routes as on predict', async () => {
    expectError(
      await post(`${host.url}/models/1.1.0/promote`, '{"requestedBy":"alice"}', 'text/plain'),
      415,
      'unsupported_media_type',
      /application\/json/,
    );
    expectError(
      await post(`${host.url}/promotions/promotion-x/approve`, 'by=bob', 'application/x-www-form-urlencoded'),
      415,
      'unsupported_media_type',
    );
    expectError(await post(predictUrl, '{}', 'text/plain'), 415, 'unsupported_media_type');
  });

  it('an oversized body is 413', async () => {
    const big = JSON.stringify({ by: 'bob', comment: 'x'.repeat(PROMOTION_MAX_BODY_BYTES) });
    expectError(
      await post(`${host.url}/promotions/promotion-x/reject`, big, 'application/json'),
      413,
      'payload_too_large',
      new RegExp(`${PROMOTION_MAX_BODY_BYTES} bytes`),
    );
    expectError(await post(`${host.url}/models/1.1.0/promote`, big, 'application/json'), 413, 'payload_too_large');
  });

  it('malformed JSON and bytes that are not UTF-8 are 400 invalid_json; a JSON array is 400 validation_error', async () => {
    expectError(
      await post(`${host.url}/models/1.1.0/promote`, '{"requestedBy": ', 'application/json'),
      400,
      'invalid_json',
      /not valid JSON/,
    );
    expectError(
      await post(`${host.url}/promotions/promotion-x/approve`, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'application/json'),
      400,
      'invalid_json',
      /UTF-8/,
    );
    expectError(await post(predictUrl, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'application/json'), 400, 'invalid_json', /UTF-8/);
    expectError(
      await post(`${host.url}/promotions/promotion-x/approve`, '[1]', 'application/json'),
      400,
      'validation_error',
      /JSON object/,
    );
  });

  it('an empty body needs no content type on the promotion routes (it is {}), but is a 400 on predict', async () => {
    // Past the body, the unknown promotion is the answer: 404 from the promotion service.
    expectError(await post(`${host.url}/promotions/promotion-nope/approve`, ''), 404, 'not_found');
    expectError(await post(predictUrl, '', 'application/json'), 400, 'invalid_json', /empty/);
  });
});

describe('KServe outage: embedded fallback and circuit breaker', () => {
  it('answers from the embedded model with degraded: true while KServe is down, and recovers when it returns', async () => {
    const body = email('Outage', 'Is anyone there?');
    const before = await postJson(predictUrl, body);
    await production.stop();
    try {
      for (let i = 0; i < 5; i++) {
        const res = await postJson(predictUrl, body);
        expect(res.status).toBe(200);
        expect(res.body.degraded).toBe(true);
        expect(res.body.model.version).toBe(COMMITTED_MODEL_VERSION);
        expect(res.body.probability).toBe(before.body.probability);
      }
      const health = await getHealth(host.url);
      expect(health.dependencies.kserve_production.status).toBe('down');
      expect(health.dependencies.kserve_production.info.breaker.state).not.toBe('closed');
      expect(health.dependencies.kserve_production.required).toBe(false);
    } finally {
      await production.start();
    }
    // After the cooldown a probe goes through and closes the breaker.
    const recovered = await waitFor(
      async () => {
        const res = await postJson(predictUrl, body);
        return res.body.degraded === false ? res : undefined;
      },
      10000,
      'the breaker to close',
    );
    expect(recovered.status).toBe(200);
    const health = await getHealth(host.url);
    expect(health.dependencies.kserve_production.info.breaker.state).toBe('closed');
    expect(health.dependencies.kserve_production.info.breaker.opens).toBeGreaterThanOrEqual(1);
  });
});

describe('inference log under a Blob outage', () => {
  it('writes every record to Blob exactly once after Blob comes back', async () => {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const runId = randomUUID().slice(0, 8);
    const ids: string[] = [];
    const send = async (i: number) => {
      const id = `blob-${runId}-${i}`;
      ids.push(id);
      const res = await postJson(predictUrl, email(`Message ${i}`, `Body number ${i}`), { 'X-Request-ID': id });
      expect(res.status).toBe(200);
    };
    for (let i = 0; i < 20; i++) await send(i);
    await azurite.stop();
    // Under load while Blob is down: predictions keep answering; records wait in the logger's buffer.
    for (let wave = 0; wave < 10; wave++) await Promise.all(Array.from({ length: 20 }, (_, k) => send(20 + wave * 20 + k)));
    const during = await getHealth(host.url);
    expect(during.dependencies.inference_logger.info.buffered).toBeGreaterThan(0);
    // The instance still serves: probes must not take it (and every other instance, on the same storage) out.
    const probe = await fetch(`${host.url}/health`);
    expect(probe.status).toBe(200);
    expect(await probe.json()).toMatchObject({ status: 'degraded', dependencies: { blob: { status: 'down', required: false } } });
    await new Promise((r) => setTimeout(r, 1000));
    await azurite.restart();
    for (let i = 220; i < 240; i++) await send(i);

    const counts = await waitFor(
      async () => {
        const seen = new Map<string, number>();
        const container = service.getContainerClient(CONTAINERS.inferenceLogs);
        for await (const blob of container.listBlobsFlat({ prefix: 'raw/env=production/' })) {
          for (const row of parseRawLog(await container.getBlobClient(blob.name).downloadToBuffer())) {
            if (row.request_id.startsWith(`blob-${runId}-`)) seen.set(row.request_id, (seen.get(row.request_id) ?? 0) + 1);
          }
        }
        return seen.size === ids.length ? seen : undefined;
      },
      30000,
      'every record in Blob',
    );
    expect(counts.size).toBe(240);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    const health = await getHealth(host.url);
    expect(health.dependencies.inference_logger.info.dropped).toBe(0);
    expect(health.dependencies.inference_logger.info.retried).toBeGreaterThan(0);
    // No email text or addresses in the log: only features, probability and the hashed sender key.
    const container = service.getContainerClient(CONTAINERS.inferenceLogs);
    for await (const blob of container.listBlobsFlat({ prefix: 'raw/env=production/' })) {
      const text = (await container.getBlobClient(blob.name).downloadToBuffer()).toString();
      expect(text).not.toMatch(/example\.org|alice|Body number/);
      break;
    }
  });
});

describe('the gateway when dependencies are missing', () => {
  let degradedHost: RunningHost;

  beforeAll(async () => {
    const deadRedis = await freePort();
    const deadStaging = await freePort();
    degradedHost = await startHostProcess({
      env: {
        AzureWebJobsStorage: azurite.connectionString,
        LOCAL_MODEL_SERVERS: 'false',
        KSERVE_PRODUCTION_URL: production.url,
        KSERVE_STAGING_URL: `http://127.0.0.1:${deadStaging}`,
        REDIS_URL: `redis://127.0.0.1:${deadRedis}`, // nothing listens there: Redis "stopped" without touching the shared one
        PREDICT_FALLBACK_ENABLED: 'false',
        KSERVE_MAX_RETRIES: '0',
        FEAST_PROJECT: PROJECT,
        SENDER_HASH_KEY: HASH_KEY,
      },
    });
  }, 60000);

  afterAll(async () => {
    await degradedHost?.stop();
  });

  it('Redis down: predictions use the unknown-sender defaults and say degraded: true', async () => {
    const res = await postJson(`${degradedHost.url}/predict`, email('Hello', 'Just checking in.', 'Promo <deals@spammy-sender.example>'));
    expect(res.status).toBe(200);
    expect(res.body.degraded).toBe(true);
    const t = await postJson(`${degradedHost.url}/transform`, email('Hello', 'Just checking in.', 'Promo <deals@spammy-sender.example>'));
    expect(t.body.degraded).toBe(true);
    expect(t.body.sender.known).toBe(false);
    expect(t.body.features.sender_domain_spam_rate).toBe(UNKNOWN_SENDER.spam_rate_30d);
    const health = await getHealth(degradedHost.url);
    expect(health.dependencies.redis.status).toBe('degraded');
    expect(degradedHost.output()).toMatch(/Redis \(Feast online store\): NOT available/);
  });

  it('KServe down with the fallback off: 503 with Retry-After and a JSON error', async () => {
    const res = await postJson(`${degradedHost.url}/predict`, email('a', 'b'), { 'X-Environment': 'staging' });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(res.body.error.code).toBe('service_unavailable');
    expect(res.body.error.message).toMatch(/KServe staging backend unavailable/);
    const health = await fetch(`${degradedHost.url}/health`);
    // Without a fallback the staging backend is required: the app reports itself down.
    expect(health.status).toBe(503);
  });
});

describe('npm start with its own V2 model servers', () => {
  it('starts one V2 server per environment before the host, routes to them, and stops them on Ctrl-C', async () => {
    const [prodPort, stagingPort] = [await freePort(), await freePort()];
    const own = await startHostProcess({
      env: {
        AzureWebJobsStorage: azurite.connectionString,
        LOCAL_KSERVE_PRODUCTION_PORT: String(prodPort),
        LOCAL_KSERVE_STAGING_PORT: String(stagingPort),
        KSERVE_PRODUCTION_URL: `http://127.0.0.1:${prodPort}`,
        KSERVE_STAGING_URL: `http://127.0.0.1:${stagingPort}`,
        MODEL_DIR_STAGING: stagingModel.dir,
        FEAST_PROJECT: PROJECT,
      },
    });
    try {
      expect(own.output()).toMatch(
        new RegExp(`KServe production: local V2 model server on http://127.0.0.1:${prodPort}, model version ${COMMITTED_MODEL_VERSION}`),
      );
      expect(own.output()).toMatch(
        new RegExp(`KServe staging: local V2 model server on http://127.0.0.1:${stagingPort}, model version ${STAGING_TEST_VERSION}`),
      );
      expect(own.output()).toMatch(/Redis \(Feast online store, project \S+\): available/);
      const res = await postJson(`${own.url}/predict`, email('Hi', 'Hello there'), { 'X-Environment': 'staging' });
      expect(res.status).toBe(200);
      expect(res.body.model.version).toBe(STAGING_TEST_VERSION);
      expect(res.body.degraded).toBe(false);
    } finally {
      expect(await own.stop()).toBe(0);
    }
    const refused = await fetch(`http://127.0.0.1:${prodPort}/v2/health/ready`).then(
      () => false,
      () => true,
    );
    expect(refused).toBe(true);
  });
});

describe('two local stacks on one machine', () => {
  it('the second takes free ports for its V2 servers when the configured ones are taken, and still routes to its own', async () => {
    // The same configured ports for both (as two `npm start` with defaults would have); no KSERVE_*_URL set.
    const [prodPort, stagingPort] = [await freePort(), await freePort()];
    const env = {
      AzureWebJobsStorage: azurite.connectionString,
      LOCAL_KSERVE_PRODUCTION_PORT: String(prodPort),
      LOCAL_KSERVE_STAGING_PORT: String(stagingPort),
      KSERVE_PRODUCTION_URL: '',
      KSERVE_STAGING_URL: '',
      FEAST_PROJECT: PROJECT,
    };
    const first = await startHostProcess({ env });
    const second = await startHostProcess({ env });
    try {
      expect(first.output()).toContain(`local V2 model server on http://127.0.0.1:${prodPort}`);
      expect(second.output()).not.toContain(`local V2 model server on http://127.0.0.1:${prodPort}`);
      for (const h of [first, second]) {
        const res = await postJson(`${h.url}/predict`, email('Hi', 'Hello there'));
        expect(res.status).toBe(200);
        expect(res.body.degraded).toBe(false);
      }
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });
});

describe('a promotion: KServe starts serving a version the gateway has not loaded', () => {
  it('loads that version from the models container, scores with its features, and falls back to it', async () => {
    const promoted = copyModelAsVersion('promoted-copy-for-tests');
    const server = await startRestartableModelServer(promoted.dir, 'production');
    // The version exists where a promotion puts it: the models container (the gateway's own copy is the committed one).
    const models = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(CONTAINERS.models);
    await models.createIfNotExists();
    for (const file of [MODEL_FILES.card, MODEL_FILES.tokens, MODEL_FILES.onnx]) {
      await models
        .getBlockBlobClient(`${modelPrefix(MODEL_NAME, 'promoted-copy-for-tests')}${file}`)
        .uploadFile(path.join(promoted.dir, file));
    }
    const gateway = await startHostProcess({
      env: {
        AzureWebJobsStorage: azurite.connectionString,
        LOCAL_MODEL_SERVERS: 'false',
        KSERVE_PRODUCTION_URL: server.url,
        KSERVE_STAGING_URL: staging.url,
        MODEL_DIR_STAGING: stagingModel.dir,
        KSERVE_MAX_RETRIES: '0',
        FEAST_PROJECT: PROJECT,
      },
    });
    try {
      const body = email('After the promotion', 'Which version answers?');
      const res = await postJson(`${gateway.url}/predict`, body);
      expect(res.status).toBe(200);
      expect(res.body.model.version).toBe('promoted-copy-for-tests');
      expect(res.body.degraded).toBe(false);
      expect(gateway.output()).toContain(
        `serves spam-detector promoted-copy-for-tests; the gateway switches from ${COMMITTED_MODEL_VERSION}`,
      );
      await server.stop();
      const fallback = await postJson(`${gateway.url}/predict`, body);
      expect(fallback.status).toBe(200);
      expect(fallback.body.degraded).toBe(true);
      expect(fallback.body.model.version).toBe('promoted-copy-for-tests');
      expect(fallback.body.probability).toBe(res.body.probability);
    } finally {
      await gateway.stop();
      await server.stop();
      promoted.dispose();
    }
  });
});
