// `npm run dataset:publish`, `npm run dataset:snapshot`, `npm run dataset:describe`: the training dataset in Blob
// (shared/dataset/trainingDataset.ts, docs/model.md), with the app's storage settings or --storage.
//
//   publish    the whole corpus (every message, its group, label and time: the trainer splits it itself) as the
//              initial set, models/datasets/{model}/initial/part-00000.parquet. The same bytes are not uploaded
//              twice; other bytes already there are kept unless --overwrite.
//   snapshot   the feedback as of --cut-off (default now) as feedback/datasets/{model}/snapshots/{id}/, what a
//              retraining's train step writes for its trainer. A scratch copy of user mail: the next retraining
//              deletes it.
//   describe   messages, bytes and time span by source, group and label, counted by DuckDB over the stored parts
//              (the initial set, and a snapshot with --snapshot).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONTAINERS, compactTime, feedbackSnapshotPrefix, initialDatasetPrefix } from '../../shared/platform/blobLayout';
import { ensureContainers, getContainerClient, resetBlobServiceClient } from '../../shared/platform/blobStorage';
import { STORAGE_CONNECTION, resetConfig } from '../../shared/platform/config';
import { MODEL_NAME } from '../../shared/model/modelArtifacts';
import { feedbackMessages } from '../../shared/lifecycle/retraining/activities';
import { writeFeedbackSnapshot } from '../../shared/dataset/trainingDataset';
import { closeParquetEngine, queryParquet } from '../../shared/logs/parquet';
import { publishInitialSet } from '../../training/trainingData';
import { parseCliArgs, parseIsoTime, runCli, UsageError } from './cliArgs';

const USAGE = `usage: npm run dataset:publish [-- --overwrite] [--storage <CONN>]
       npm run dataset:snapshot [-- --cutoff <ISO time>] [--id <ID>] [--storage <CONN>]
       npm run dataset:describe [-- --snapshot <ID>] [--storage <CONN>]
  publish            the corpus as the initial training set: ${CONTAINERS.models}/${initialDatasetPrefix(MODEL_NAME)}part-00000.parquet
    --overwrite      replace the stored part when its bytes differ (default: keep it)
  snapshot           the feedback received before --cutoff: ${CONTAINERS.feedback}/${feedbackSnapshotPrefix(MODEL_NAME)}<ID>/part-00000.parquet
    --cutoff <ISO>   the cut-off, such as 2026-11-20T00:00:00Z (default now)
    --id <ID>        the snapshot's name: letters, digits, '.', '_', '-' (default manual-<cut-off>)
  describe           counts by source, group and label, from the stored Parquet parts
    --snapshot <ID>  add that feedback snapshot to the initial set
  --storage <CONN>   a storage connection string instead of the app's storage settings`;

const SNAPSHOT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function snapshotId(raw: string): string {
  if (!SNAPSHOT_ID.test(raw))
    throw new UsageError(`--id ${JSON.stringify(raw)} is not valid: expected letters, digits, '.', '_' and '-', at most 100`);
  return raw;
}

/** The parts under `prefix`, downloaded into `dir`; their local paths. */
async function download(container: string, prefix: string, dir: string): Promise<string[]> {
  const client = getContainerClient(container);
  const files: string[] = [];
  for await (const b of client.listBlobsFlat({ prefix })) {
    if (!b.name.endsWith('.parquet')) continue;
    const file = path.join(dir, `${files.length}.parquet`);
    await client.getBlobClient(b.name).downloadToFile(file);
    files.push(file);
  }
  if (!files.length) throw new Error(`no Parquet part at ${container}/${prefix}`);
  return files;
}

/** The DuckDB query the docs show, over the downloaded parts. */
export function describeQuery(files: readonly string[]): string {
  const list = files.map((f) => `'${f.replace(/'/g, "''")}'`).join(', ');
  return (
    `SELECT source, "group", spam, count(*) AS messages, sum(octet_length(message)) AS bytes, ` +
    `min(received_at) AS first_received, max(received_at) AS last_received ` +
    `FROM read_parquet([${list}]) GROUP BY ALL ORDER BY ALL`
  );
}

async function describe(snapshot: string | undefined, print: (line: string) => void): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataset-describe-'));
  try {
    const started = performance.now();
    const files = await download(CONTAINERS.models, initialDatasetPrefix(MODEL_NAME), dir);
    if (snapshot) files.push(...(await download(CONTAINERS.feedback, feedbackSnapshotPrefix(MODEL_NAME, snapshot), dir)));
    const bytes = files.reduce((sum, f) => sum + fs.statSync(f).size, 0);
    print(`downloaded ${files.length} part(s), ${(bytes / 1e6).toFixed(1)} MB, in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const rows = await queryParquet(describeQuery(files));
    print('source    group        spam  messages      bytes  first received             last received');
    for (const r of rows) {
      const time = (t: unknown) => (t instanceof Date ? t.toISOString() : 'none').padEnd(25);
      print(
        `${String(r.source).padEnd(9)} ${String(r.group).padEnd(12)} ${String(r.spam).padEnd(5)} ${String(r.messages).padStart(8)} ${String(r.bytes).padStart(10)}  ${time(r.first_received)} ${time(r.last_received)}`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function runDatasetCli(argv: string[], print: (line: string) => void = console.log): Promise<void> {
  const { values, positionals } = parseCliArgs(
    argv,
    {
      overwrite: { type: 'boolean', default: false },
      cutoff: { type: 'string' },
      id: { type: 'string' },
      snapshot: { type: 'string' },
      storage: { type: 'string' },
    },
    { positionals: 1 },
  );
  const commands = ['publish', 'snapshot', 'describe'] as const;
  const command = commands.find((c) => c === positionals[0]);
  if (!command)
    throw new UsageError(
      positionals.length
        ? `unknown command ${JSON.stringify(positionals[0])}: expected publish, snapshot or describe`
        : 'give a command: publish, snapshot or describe',
    );
  const allowed = { publish: ['overwrite'], snapshot: ['cutoff', 'id'], describe: ['snapshot'] }[command];
  const stray = (['overwrite', 'cutoff', 'id', 'snapshot'] as const).filter(
    (o) => !allowed.includes(o) && values[o] !== undefined && values[o] !== false,
  );
  if (stray.length) throw new UsageError(`${stray.map((o) => `--${o}`).join(', ')} does not apply to ${command}`);
  const cutoff = values.cutoff === undefined ? new Date() : parseIsoTime('cutoff', values.cutoff);
  const id = values.id === undefined ? `manual-${compactTime(cutoff, { milliseconds: true })}` : snapshotId(values.id);
  const snapshot = values.snapshot === undefined ? undefined : snapshotId(values.snapshot);
  if (values.storage) {
    process.env[STORAGE_CONNECTION] = values.storage;
    resetConfig();
    resetBlobServiceClient();
  }

  const started = performance.now();
  const progress = (line: string) => print(`[dataset ${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}`);
  try {
    if (command === 'publish') {
      await ensureContainers([CONTAINERS.models]);
      await publishInitialSet(MODEL_NAME, { overwrite: values.overwrite, progress });
    } else if (command === 'snapshot') {
      const messages = await feedbackMessages(cutoff);
      progress(`read ${messages.length} feedback messages received before ${cutoff.toISOString()}`);
      await writeFeedbackSnapshot(MODEL_NAME, id, cutoff, messages, progress);
    } else {
      await describe(snapshot, print);
    }
  } finally {
    await closeParquetEngine();
  }
}

if (require.main === module) runCli('dataset', runDatasetCli, USAGE);
