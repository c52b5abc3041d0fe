// `npm run features:materialize` end to end: inference-log blobs in a private Azurite -> the CLI (child process,
// as npm runs it) -> Feast's layout in the real Redis -> read back by the gateway's reader, identical to the
// aggregation of the same records. Also checks that aks/feast/ describes the same project, view and entity.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { BlobServiceClient } from '@azure/storage-blob';
import { CONTAINERS, rawLogBlobName } from '../../../shared/platform/blobLayout';
import { settingDefault } from '../../../shared/platform/config';
import { aggregateSenderStats } from '../../../shared/serving/featureStore/senderStats';
import { FeatureStore, SENDER_JOIN_KEY } from '../../../shared/serving/featureStore/featureStore';
import {
  FEATURE_COUNT,
  SENDER_FEAST_FEATURES,
  SENDER_FEATURE_VIEW,
  SENDER_WINDOW_DAYS,
} from '../../../shared/serving/features/featureList';
import { compactClosedPartitions, compactionOptionsFromConfig } from '../../../shared/logs/compaction';
import { InferenceLogRecord, toFlatRow } from '../../../shared/logs/logSchema';
import { rawBatchBody, serializeRow } from '../../../shared/logs/rawLogFormat';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { dropFeastProject } from '../../helpers/feastProject';
import { REPO_ROOT, distPath } from '../../helpers/paths';

const run = promisify(execFile);

describe('features:materialize from the inference log', () => {
  const project = `mat_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let azurite: TestAzurite;
  let store: FeatureStore;

  beforeAll(async () => {
    azurite = await startTestAzurite();
    store = new FeatureStore({ url: 'redis://127.0.0.1:6379', project, timeoutMs: 2000 });
  });

  afterAll(async () => {
    await dropFeastProject(project);
    await store.close();
    await azurite.dispose();
  });

  it('writes the sender statistics of the log window to Redis, and the reader gets exactly them back', async () => {
    const now = new Date();
    const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000);
    // sender a: 3 in the window (2 spam); b: 1 ham in the window + 1 spam outside it; c: only outside the window;
    // one record without a sender key.
    const spec: Array<[string | null, 'spam' | 'ham', number]> = [
      ['a'.repeat(32), 'spam', 1],
      ['a'.repeat(32), 'spam', 5],
      ['a'.repeat(32), 'ham', 30],
      ['b'.repeat(32), 'ham', 2],
      ['b'.repeat(32), 'spam', 24 * (SENDER_WINDOW_DAYS + 2)],
      ['c'.repeat(32), 'spam', 24 * (SENDER_WINDOW_DAYS + 5)],
      [null, 'spam', 3],
    ];
    const records: InferenceLogRecord[] = spec.map(([sender, prediction, h], i) => ({
      time: hoursAgo(h).toISOString(),
      request_id: `mat-${i}`,
      environment: 'production',
      model_name: 'spam-detector',
      model_version: '1.0.0',
      features: new Float32Array(FEATURE_COUNT).fill(0.5),
      probability: prediction === 'spam' ? 0.9 : 0.1,
      prediction,
      latency_ms: 3,
      degraded: false,
      sender_key: sender,
    }));
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const container = service.getContainerClient(CONTAINERS.inferenceLogs);
    await container.createIfNotExists();
    for (const [i, r] of records.entries()) {
      const body = rawBatchBody([serializeRow(toFlatRow(r))]);
      await container
        .getBlockBlobClient(rawLogBlobName('production', new Date(r.time), new Date(r.time), 'testwriter', i))
        .upload(body, body.length);
    }
    // Hours that had ended 3.5 hours ago (grace included) are compacted to Parquet (their raw blobs deleted); the newer ones
    // stay raw, so the materializer has to read both.
    const compacted = await compactClosedPartitions(compactionOptionsFromConfig({ container, now: () => hoursAgo(3.5) }), 'production');
    expect(compacted.errors).toEqual([]);
    expect(compacted.results.filter((r) => r.status === 'compacted')).toHaveLength(4);

    const { stdout } = await run(
      process.execPath,
      [distPath('tools', 'cli', 'materialize.js'), '--source', 'logs', '--env', 'production', '--as-of', now.toISOString()],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, AzureWebJobsStorage: azurite.connectionString, FEAST_PROJECT: project, REDIS_URL: 'redis://127.0.0.1:6379' },
      },
    );
    expect(stdout).toMatch(/2 senders .* from 4 events/);
    expect(stdout).toMatch(/read 5 log rows \(2 from Parquet, 3 from raw blobs\)/);
    expect(stdout).toMatch(/Wrote 2 rows to Redis/);

    const expected = aggregateSenderStats(
      records.filter((r) => r.sender_key).map((r) => ({ senderKey: r.sender_key!, spam: r.prediction === 'spam', time: new Date(r.time) })),
      now,
    );
    expect(expected.map((r) => [r.entity, r.features])).toEqual([
      ['a'.repeat(32), { message_count_30d: 3, spam_rate_30d: 2 / 3 }],
      ['b'.repeat(32), { message_count_30d: 1, spam_rate_30d: 0 }],
    ]);
    const read = await store.getSenderFeatures(['a'.repeat(32), 'b'.repeat(32), 'c'.repeat(32)]);
    expect(read.degraded).toBe(false);
    expect(read.found).toEqual([true, true, false]);
    expect(read.features.slice(0, 2)).toEqual(expected.map((r) => r.features));
  });
});

describe('aks/feast describes the store the gateway reads', () => {
  const dir = path.join(REPO_ROOT, 'aks', 'feast');

  it('feature_store.yaml: same project as FEAST_PROJECT, Redis online store, entity key serialization v3', () => {
    const config = yaml.load(fs.readFileSync(path.join(dir, 'feature_store.yaml'), 'utf8')) as Record<string, any>;
    expect(config.project).toBe(settingDefault('FEAST_PROJECT'));
    expect(config.online_store.type).toBe('redis');
    expect(config.entity_key_serialization_version).toBe(3);
  });

  it('features.py: the feature view, join key and features the gateway reads', () => {
    const py = fs.readFileSync(path.join(dir, 'features.py'), 'utf8');
    expect(py).toContain(`join_keys=["${SENDER_JOIN_KEY}"]`);
    expect(py).toMatch(new RegExp(`FeatureView\\(\\s*name="${SENDER_FEATURE_VIEW}"`));
    for (const f of SENDER_FEAST_FEATURES) expect(py).toContain(`Field(name="${f}"`);
    expect(py).toContain(`ttl=timedelta(days=${SENDER_WINDOW_DAYS})`);
  });
});
