// The training dataset in Blob (Azurite): `npm run dataset:publish` writes the corpus as Parquet, idempotently; read
// back it is the corpus exactly (ids, bytes, labels, times, order); DuckDB queries it; a model trained on it is the
// model trained on the package, byte for byte; feedback snapshots round-trip and are deleted by name.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDatasetCli } from '../../../tools/cli/dataset';
import { CONTAINERS, datasetPartName, feedbackSnapshotPrefix, initialDatasetPrefix } from '../../../shared/platform/blobLayout';
import { getContainerClient } from '../../../shared/platform/blobStorage';
import {
  DATASET_SCHEMA_VERSION,
  DatasetUnavailableError,
  deleteFeedbackSnapshots,
  readFeedbackSnapshot,
  writeFeedbackSnapshot,
} from '../../../shared/dataset/trainingDataset';
import { closeParquetEngine, parquetFileInfo, queryParquet } from '../../../shared/logs/parquet';
import { MODEL_NAME } from '../../../shared/model/modelArtifacts';
import { CORPUS_DESCRIPTION, loadCorpus } from '../../../training/corpus';
import { loadInitialSet } from '../../../training/trainingData';
import { trainModel } from '../../../training/trainModel';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { setAppEnv } from '../../helpers/env';

jest.setTimeout(300_000);

let azurite: TestAzurite;
let restore: () => void;
let dir: string;
const part = initialDatasetPrefix(MODEL_NAME) + datasetPartName(0);

beforeAll(async () => {
  azurite = await startTestAzurite();
  restore = setAppEnv({ AzureWebJobsStorage: azurite.connectionString, TRAINING_DATA: undefined });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataset-test-'));
});

afterAll(async () => {
  restore();
  await closeParquetEngine();
  await azurite.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function publish(...args: string[]): Promise<string[]> {
  const lines: string[] = [];
  await runDatasetCli(['publish', ...args], (line) => lines.push(line));
  return lines;
}

const download = async (container: string, name: string) => {
  const file = path.join(dir, `${container}-${name.replace(/\//g, '_')}`);
  await getContainerClient(container).getBlobClient(name).downloadToFile(file);
  return file;
};

it('says where the data is missing before anything is published', async () => {
  await expect(loadInitialSet('blob', MODEL_NAME)).rejects.toThrow(
    new DatasetUnavailableError(
      `no training dataset at models/${initialDatasetPrefix(MODEL_NAME)} (no Parquet part): publish it with npm run dataset:publish`,
    ),
  );
  await expect(trainModel({ trainingData: 'blob', subsample: 20 })).rejects.toThrow(/npm run dataset:publish/);
});

it('publishes the whole corpus as one Parquet part with progress lines, and the same bytes only once', async () => {
  const first = await publish();
  expect(first).toEqual([
    expect.stringMatching(/read 6046 messages \([\d.]+ MB of mail\) from @stdlib\/datasets-spam-assassin in [\d.]+ s$/),
    expect.stringMatching(/wrote 6046 rows as Parquet: [\d.]+ MB in [\d.]+ s$/),
    expect.stringMatching(new RegExp(`uploaded to models/${part} \\(sha256 [0-9a-f]{12}…, [\\d.]+ s\\)$`)),
  ]);
  const blob = getContainerClient(CONTAINERS.models).getBlobClient(part);
  const before = await blob.getProperties();
  // The writer is deterministic: a second publish finds the same bytes and leaves the blob as it is.
  const second = await publish();
  expect(second[2]).toMatch(new RegExp(`unchanged: the same bytes are already at models/${part}`));
  expect((await blob.getProperties()).etag).toBe(before.etag);
  expect(before.metadata).toMatchObject({ rows: '6046', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  expect(before.contentType).toBe('application/vnd.apache.parquet');
  console.log(`initial set: ${first.join(' | ')}`);
});

it('reads back exactly the corpus of the package: ids, groups, labels, bytes and times, in the same order', async () => {
  const started = performance.now();
  const stored = await loadInitialSet('blob', MODEL_NAME);
  console.log(`read the initial set from Blob in ${((performance.now() - started) / 1000).toFixed(1)} s: ${stored.origin}`);
  const corpus = loadCorpus();
  expect(stored.description).toBe(CORPUS_DESCRIPTION);
  expect(stored.messages.length).toBe(corpus.length);
  const differences = corpus.flatMap((m, i) => {
    const s = stored.messages[i];
    const same =
      s.id === m.id &&
      s.group === m.group &&
      s.spam === m.spam &&
      s.raw.equals(m.raw) &&
      (s.receivedAt?.getTime() ?? null) === (m.receivedAt?.getTime() ?? null);
    return same ? [] : [m.id];
  });
  expect(differences).toEqual([]);
});

it('is a Parquet file DuckDB queries: columns, types, schema version, counts by source and label', async () => {
  const file = await download(CONTAINERS.models, part);
  const info = await parquetFileInfo(file);
  expect(info.metadata).toMatchObject({ dataset_schema_version: String(DATASET_SCHEMA_VERSION), corpus: CORPUS_DESCRIPTION });
  expect(info.columns.map((c) => [c.name, c.type])).toEqual([
    ['message_id', 'BYTE_ARRAY'],
    ['source', 'BYTE_ARRAY'],
    ['group', 'BYTE_ARRAY'],
    ['spam', 'BOOLEAN'],
    ['received_at', 'INT64'],
    ['message', 'BYTE_ARRAY'],
  ]);
  expect(info.columns[4].logicalType).toMatch(/isAdjustedToUTC=1.*MICROS/);
  const counts = await queryParquet(
    `SELECT source, spam, count(*) AS n, sum(octet_length(message)) AS bytes FROM read_parquet('${file}') GROUP BY ALL ORDER BY ALL`,
  );
  const corpus = loadCorpus();
  const expected = [false, true].map((spam) => {
    const rows = corpus.filter((m) => m.spam === spam);
    return { source: 'corpus', spam, n: BigInt(rows.length), bytes: BigInt(rows.reduce((sum, m) => sum + m.raw.length, 0)) };
  });
  expect(counts).toEqual(expected);
});

it('trains the same model on the Blob dataset as on the package, byte for byte', async () => {
  const fromPackage = await trainModel({ trainingData: 'package', subsample: 4 });
  const progress: string[] = [];
  const fromBlob = await trainModel({ trainingData: 'blob', subsample: 4 }, (line) => progress.push(line));
  expect(progress[0]).toMatch(
    new RegExp(`^corpus: 1512 messages from models/${initialDatasetPrefix(MODEL_NAME)} in Blob \\(1 part, [\\d.]+ MB\\)`),
  );
  expect(fromBlob.card).toEqual(fromPackage.card);
  expect([...fromBlob.files.keys()]).toEqual([...fromPackage.files.keys()]);
  for (const [name, bytes] of fromPackage.files)
    expect({ name, same: fromBlob.files.get(name)!.equals(bytes) }).toEqual({ name, same: true });
});

it('keeps other bytes already stored unless --overwrite, and refuses a part that is not the dataset', async () => {
  const blob = getContainerClient(CONTAINERS.models).getBlockBlobClient(part);
  await blob.upload('not parquet', 11);
  const kept = await publish();
  expect(kept[2]).toMatch(new RegExp(`kept: other bytes are at models/${part} .*; pass --overwrite to replace them$`));
  expect((await blob.downloadToBuffer()).toString()).toBe('not parquet');
  await expect(loadInitialSet('blob', MODEL_NAME)).rejects.toThrow(new RegExp(`^models/${part} is not a Parquet file DuckDB can read: `));

  const replaced = await publish('--overwrite');
  expect(replaced[2]).toMatch(/^\[dataset .*\] uploaded to /);
  expect((await loadInitialSet('blob', MODEL_NAME)).messages).toHaveLength(6046);
});

it('describes the stored dataset by source, group and label', async () => {
  const lines: string[] = [];
  await runDatasetCli(['describe'], (line) => lines.push(line));
  expect(lines.slice(2).map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
    ['corpus', 'easy-ham-1', 'false', '2500'],
    ['corpus', 'easy-ham-2', 'false', '1400'],
    ['corpus', 'hard-ham-1', 'false', '250'],
    ['corpus', 'spam-1', 'true', '500'],
    ['corpus', 'spam-2', 'true', '1396'],
  ]);
});

it('writes a feedback snapshot that reads back as the messages given, and deletes snapshots by name', async () => {
  const cutoff = new Date('2026-11-20T00:00:00.000Z');
  const messages = [0, 1, 2].map((i) => ({
    id: `${i}`.repeat(64),
    raw: Buffer.from(`Subject: note ${i}\n\n\u00e9t\u00e9 \u0000 ${i}\n`, 'latin1'),
    spam: i === 1,
    receivedAt: new Date(cutoff.getTime() - (3 - i) * 3_600_000 - 1),
  }));
  const written = await writeFeedbackSnapshot(MODEL_NAME, 'run-a', cutoff, messages);
  expect(written).toMatchObject({
    rows: 3,
    outcome: 'uploaded',
    blob: `feedback/${feedbackSnapshotPrefix(MODEL_NAME, 'run-a')}part-00000.parquet`,
  });
  expect(await readFeedbackSnapshot(MODEL_NAME, 'run-a')).toEqual(messages);
  const file = await download(CONTAINERS.feedback, feedbackSnapshotPrefix(MODEL_NAME, 'run-a') + datasetPartName(0));
  expect((await parquetFileInfo(file)).metadata).toMatchObject({ cutoff: cutoff.toISOString() });
  expect(await queryParquet(`SELECT DISTINCT source, "group" FROM read_parquet('${file}')`)).toEqual([
    { source: 'feedback', group: 'feedback' },
  ]);

  await writeFeedbackSnapshot(MODEL_NAME, 'run-b', cutoff, messages.slice(0, 1));
  await writeFeedbackSnapshot(MODEL_NAME, 'run-c', cutoff, []);
  expect(await readFeedbackSnapshot(MODEL_NAME, 'run-c')).toEqual([]);
  expect(await deleteFeedbackSnapshots(MODEL_NAME, { only: 'run-b' })).toEqual([
    feedbackSnapshotPrefix(MODEL_NAME, 'run-b') + datasetPartName(0),
  ]);
  expect(await deleteFeedbackSnapshots(MODEL_NAME, { except: 'run-c' })).toEqual([
    feedbackSnapshotPrefix(MODEL_NAME, 'run-a') + datasetPartName(0),
  ]);
  await expect(readFeedbackSnapshot(MODEL_NAME, 'run-a')).rejects.toThrow(DatasetUnavailableError);
  expect(await readFeedbackSnapshot(MODEL_NAME, 'run-c')).toEqual([]);
});

it('the snapshot command writes the feedback as of a cut-off; bad arguments are usage errors', async () => {
  const lines: string[] = [];
  await runDatasetCli(['snapshot', '--cutoff', '2026-11-20T00:00:00Z', '--id', 'manual-test'], (line) => lines.push(line));
  expect(lines[0]).toMatch(/read 0 feedback messages received before 2026-11-20T00:00:00.000Z$/);
  expect(lines[2]).toMatch(new RegExp(`uploaded to feedback/${feedbackSnapshotPrefix(MODEL_NAME, 'manual-test')}part-00000.parquet`));
  await expect(runDatasetCli([])).rejects.toThrow('give a command: publish, snapshot or describe');
  await expect(runDatasetCli(['publish', '--cutoff', '2026-01-01'])).rejects.toThrow('--cutoff does not apply to publish');
  await expect(runDatasetCli(['snapshot', '--id', '../x'])).rejects.toThrow(/--id "\.\.\/x" is not valid/);
  await expect(runDatasetCli(['drop'])).rejects.toThrow('unknown command "drop": expected publish, snapshot or describe');
});
