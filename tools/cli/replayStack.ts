// What both replays (`npm run replay`, the drift scenario, and `npm run replay -- --feedback`, the prequential one)
// need of a local stack: starting `npm start`'s host as a child, serving the replay's own Feast project the sender
// statistics the model read the mail with in training, waiting for a model's baseline to be active, and counting
// what the inference logger has written.
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Environment } from '../../shared/platform/blobLayout';
import { FeatureStore } from '../../shared/serving/featureStore/featureStore';
import { getActiveBaseline } from '../../shared/drift/activeBaseline';
import { listWindowPartitions, readPartition } from '../../shared/logs/windowReader';
import { sha256 } from '../../shared/platform/hash';
import { baselineFile, committedModelDir, MODEL_NAME, publishModel } from '../../shared/model/modelArtifacts';
import { loadTrainingSenders, TrainingSenders, TrainingStoreMoment } from '../../training/trainingSenderStats';
import { projectRoot } from '../../shared/platform/projectRoot';
import { errorMessage } from '../../shared/platform/errors';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function reachable(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

export interface StartedStack {
  /** The API base, ending in /api. */
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the host printed so far. */
  output(): string;
  /** SIGINT (the host flushes and stops its children) and wait for the exit. */
  stop(): Promise<void>;
}

/** Start the local stack (what `npm start` runs) with `env` over this process's environment; resolves once it listens. */
export async function startStack(env: NodeJS.ProcessEnv): Promise<StartedStack> {
  const child = spawn(process.execPath, [path.join(projectRoot(), 'dist', 'tools', 'cli', 'start.js')], {
    cwd: projectRoot(),
    env: { ...process.env, LOCAL_HOST_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the local stack did not start in 120 s:\n${output}`)), 120_000);
    const onData = () => {
      const m = /Host listening on (\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(m[1].replace('localhost', '127.0.0.1'));
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the local stack exited with ${code}:\n${output}`)));
  });
  return {
    url: url.endsWith('/api') ? url : `${url.replace(/\/$/, '')}/api`,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
    },
  };
}

/** A Feast project the replay owns: it serves, on request, exactly the rows of a store the model read mail with. */
export class ReplaySenderStore {
  private written: string[] = [];
  private senders: Promise<TrainingSenders> | undefined;

  constructor(
    private readonly store: FeatureStore,
    private readonly hashKey: string,
  ) {}

  /** Replace the project's rows with the training store as of `asOf`; the line to print says what was done. */
  async serve(asOf: TrainingStoreMoment): Promise<string> {
    try {
      this.senders ??= loadTrainingSenders(this.hashKey); // parsed once, however many moments are served
      const stats = (await this.senders).storeAt(asOf);
      await this.store.deleteSenderFeatures(this.written);
      await this.store.writeSenderFeatures(stats.rows);
      this.written = stats.rows.map((r) => r.entity);
      return `Feast project ${this.store.project}: the store as of ${stats.asOf.toISOString()} (${asOf}), ${stats.rows.length} senders`;
    } catch (err) {
      return `Feast project ${this.store.project}: not written (${errorMessage(err)}); senders read as unknown`;
    }
  }

  async close(): Promise<void> {
    await this.store.deleteSenderFeatures(this.written).catch(() => 0);
    await this.store.close();
  }
}

/**
 * Wait until the committed model's baseline is active (npm start publishes it; the baseline event activates it).
 * When Blob holds another baseline of that version (npm start keeps existing blobs), upload the committed one and
 * wait for that instead: a replay is only meaningful against the baseline its mail was held out from.
 */
export async function ensureCommittedBaselineActive(version: string, print: (line: string) => void): Promise<void> {
  const committedSha = sha256(fs.readFileSync(baselineFile(version)));
  const waitForActive = async (accept: (sha: string) => boolean) => {
    const deadline = Date.now() + 60_000;
    let active = await getActiveBaseline(MODEL_NAME, version);
    while (!(active && accept(active.record.sha256)) && Date.now() < deadline) {
      await sleep(1000);
      active = await getActiveBaseline(MODEL_NAME, version);
    }
    return active;
  };
  print(`waiting for the active baseline of ${MODEL_NAME} ${version} (published by npm start, activated by the baseline event)`);
  let active = await waitForActive(() => true);
  if (!active) throw new Error(`no active baseline for ${MODEL_NAME} ${version} after 60 s: is the baselineEvent function running?`);
  if (active.record.sha256 !== committedSha) {
    print(
      `active baseline ${active.record.sha256.slice(0, 12)} is not the committed one (${committedSha.slice(0, 12)}); uploading the committed model and baseline`,
    );
    await publishModel(committedModelDir(), baselineFile(version), { version, overwrite: true });
    active = await waitForActive((sha) => sha === committedSha);
    if (active?.record.sha256 !== committedSha)
      throw new Error(`the committed baseline ${committedSha.slice(0, 12)} was not activated within 60 s`);
  }
  print(
    `baseline ${active.record.sha256.slice(0, 12)} (${active.baseline.sampling.referenceRows} rows) active since ${active.record.activated_at}`,
  );
}

/** Rows of `env` in [start, end) that are in Blob (raw or Parquet). */
export async function loggedRows(env: Environment, start: Date, end: Date): Promise<number> {
  let rows = 0;
  for (const p of await listWindowPartitions(env, start, end)) {
    for await (const batch of readPartition(p, start, end, { columns: ['model_version'] })) rows += batch.rowCount;
  }
  return rows;
}

/** Wait (up to `timeoutMs`) until `expected` rows of [start, end) are in Blob; the count there. */
export async function waitForLoggedRows(env: Environment, start: Date, end: Date, expected: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let rows = await loggedRows(env, start, end);
  while (rows < expected && Date.now() < deadline) {
    await sleep(500);
    rows = await loggedRows(env, start, end);
  }
  return rows;
}
