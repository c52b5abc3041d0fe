// The drift detector's one way to read inference logs: the rows of an environment in [from, to), from committed
// Parquet parts plus raw blobs not compacted yet, as column batches.
//
// Consistency while a compaction runs: per hour, the reader lists the raw blobs FIRST and reads the manifest
// SECOND. A raw blob the manifest lists is read from its Parquet part, never from raw; a listed raw blob the
// manifest does not list is read raw. Since the compactor commits the manifest before deleting raw blobs, a raw
// blob's rows are in exactly one of the two places the reader takes them from. A raw blob that disappears between
// the listing and its download was committed meanwhile, a part that disappears was merged meanwhile: nothing of the
// hour has been yielded yet (every file is fetched to a temp folder before the first batch), so the hour's plan is
// simply made again.
//
// Memory: files are streamed to a temp folder; Parquet is read row group by row group with only the projected
// columns, raw blobs one at a time; a batch holds at most `batchRows` rows (raw rows come in batches of their own).
import fs from 'node:fs';
import path from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { CONTAINERS, Environment, hourPartition, logPartitionPrefix, partitionStart, RAW_LOG_EXTENSION } from '../platform/blobLayout';
import { getContainerClient, isBlobNotFound } from '../platform/blobStorage';
import { HourPartition, listRawBlobs, readManifest } from './compaction';
import { checkProjection, LogBatch } from './logBatch';
import { readParquetBatches, readRawBatches, validateRawFiles } from './parquet';
import { makeTempDir, removeTempDir } from '../platform/tempSpace';

export interface WindowReadOptions {
  /** Columns to read (default: all). Ask only for what you use: unread Parquet columns cost nothing. */
  columns?: readonly string[];
  /** Rows per batch at most (default 65,536). */
  batchRows?: number;
  container?: ContainerClient;
  /** Parent of the hour's temp folder; default: this process's folder under the app's temp root (tempSpace.ts). */
  tempDir?: string;
  /** Filled while reading: where the rows came from. */
  stats?: WindowReadStats;
}

export interface WindowReadStats {
  partitions: number;
  parquetParts: number;
  parquetRows: number;
  rawBlobs: number;
  rawRows: number;
  /** Raw blobs skipped because they are corrupt (the compactor quarantines them). */
  corruptRawBlobs: number;
  /** Hour plans made again because a raw blob was committed, or a part merged away, while the reader looked. */
  replans: number;
}

export function emptyWindowStats(): WindowReadStats {
  return { partitions: 0, parquetParts: 0, parquetRows: 0, rawBlobs: 0, rawRows: 0, corruptRawBlobs: 0, replans: 0 };
}

export interface WindowPartition extends HourPartition {
  /** Start of the hour (UTC). */
  start: Date;
}

const HOUR_MS = 3600_000;

function hoursOf(from: Date, to: Date): { date: string; hour: string; start: Date }[] {
  const out: { date: string; hour: string; start: Date }[] = [];
  const first = Math.floor(from.getTime() / HOUR_MS) * HOUR_MS;
  for (let t = first; t < to.getTime(); t += HOUR_MS) {
    const start = new Date(t);
    out.push({ ...hourPartition(start), start });
  }
  return out;
}

/** Prefixes `hour=hh/` directly under `{kind}/env=/date=/`. */
async function hoursWithBlobs(container: ContainerClient, kind: 'raw' | 'parquet', env: Environment, date: string): Promise<Set<string>> {
  const hours = new Set<string>();
  for await (const item of container.listBlobsByHierarchy('/', { prefix: logPartitionPrefix(kind, { env, date }) })) {
    if (item.kind === 'prefix') {
      const m = /hour=(\d{2})\/$/.exec(item.name);
      if (m) hours.add(m[1]);
    }
  }
  return hours;
}

/**
 * The hour partitions of `env` in [from, to) that hold any log (raw or Parquet), in time order: the unit of work of
 * the drift fan-out (one activity per partition, each calling `readPartition`).
 */
export async function listWindowPartitions(
  env: Environment,
  from: Date,
  to: Date,
  options: Pick<WindowReadOptions, 'container'> = {},
): Promise<WindowPartition[]> {
  const container = options.container ?? getContainerClient(CONTAINERS.inferenceLogs);
  const byDate = new Map<string, Set<string>>();
  const out: WindowPartition[] = [];
  for (const h of hoursOf(from, to)) {
    let hours = byDate.get(h.date);
    if (!hours) {
      const [raw, parquet] = await Promise.all([
        hoursWithBlobs(container, 'raw', env, h.date),
        hoursWithBlobs(container, 'parquet', env, h.date),
      ]);
      hours = new Set([...raw, ...parquet]);
      byDate.set(h.date, hours);
    }
    if (hours.has(h.hour)) out.push({ env, date: h.date, hour: h.hour, start: h.start });
  }
  return out;
}

interface Plan {
  parts: string[];
  raw: string[];
}

async function planPartition(container: ContainerClient, p: HourPartition): Promise<Plan> {
  const listed = await listRawBlobs(container, p); // first: see the module comment
  const manifest = await readManifest(p, container);
  const committed = new Set(manifest?.manifest.parts.flatMap((x) => x.raw_blobs) ?? []);
  return { parts: manifest?.manifest.parts.map((x) => x.path) ?? [], raw: listed.filter((n) => !committed.has(n)) };
}

/** Download every file of the plan; false when a blob vanished (the plan is stale). */
async function fetchPlan(
  container: ContainerClient,
  plan: Plan,
  dir: string,
): Promise<{ parts: string[]; raw: { name: string; file: string }[] } | undefined> {
  const parts: string[] = [];
  const raw: { name: string; file: string }[] = [];
  try {
    for (const [i, name] of plan.parts.entries()) {
      const file = path.join(dir, `p${i}.parquet`);
      await container.getBlobClient(name).downloadToFile(file);
      parts.push(file);
    }
    for (const [i, name] of plan.raw.entries()) {
      const file = path.join(dir, `r${i}${RAW_LOG_EXTENSION}`);
      await container.getBlobClient(name).downloadToFile(file);
      raw.push({ name, file });
    }
  } catch (err) {
    if (isBlobNotFound(err)) return undefined;
    throw err;
  }
  return { parts, raw };
}

/** The rows of one hour partition in [from, to) as column batches (see the module comment for consistency). */
export async function* readPartition(p: HourPartition, from: Date, to: Date, options: WindowReadOptions = {}): AsyncGenerator<LogBatch> {
  const container = options.container ?? getContainerClient(CONTAINERS.inferenceLogs);
  const columns = checkProjection(options.columns);
  const batchRows = options.batchRows ?? 65536;
  const stats = options.stats ?? emptyWindowStats();
  const fromMs = from.getTime();
  const toMs = to.getTime();
  const start = partitionStart(p).getTime();
  if (start + HOUR_MS <= fromMs || start >= toMs) return;
  const dir = options.tempDir ? fs.mkdtempSync(path.join(options.tempDir, 'logwindow-')) : makeTempDir('logwindow-');
  try {
    let fetched: Awaited<ReturnType<typeof fetchPlan>>;
    for (let attempt = 0; ; attempt++) {
      fetched = await fetchPlan(container, await planPartition(container, p), dir);
      if (fetched) break;
      stats.replans++;
      if (attempt >= 10) throw new Error(`hour ${p.env}/${p.date}/${p.hour} kept changing while it was read`);
    }
    stats.partitions++;
    // Whole hour inside the window: no row filter, so DuckDB reads the row groups without comparing times.
    const inside = start >= fromMs && start + HOUR_MS <= toMs;
    for (const file of fetched.parts) {
      stats.parquetParts++;
      for await (const batch of readParquetBatches(file, { columns, batchRows, ...(inside ? {} : { fromMs, toMs }) })) {
        stats.parquetRows += batch.rowCount;
        yield batch;
      }
      fs.rmSync(file, { force: true });
    }
    const verdicts = await validateRawFiles(
      fetched.raw.map((r) => r.file),
      p,
    );
    for (const { file } of fetched.raw) {
      // The compactor's own test: a blob it would quarantine is never counted here either.
      if (verdicts.get(file)?.problem !== undefined) {
        stats.corruptRawBlobs++;
        continue;
      }
      stats.rawBlobs++;
      for await (const batch of readRawBatches(file, { columns, batchRows, ...(inside ? {} : { fromMs, toMs }) })) {
        stats.rawRows += batch.rowCount;
        yield batch;
      }
      fs.rmSync(file, { force: true });
    }
  } finally {
    removeTempDir(dir);
  }
}

/** Every row of `env` in [from, to), hour by hour: `for await (const batch of readWindow(...))`. */
export async function* readWindow(env: Environment, from: Date, to: Date, options: WindowReadOptions = {}): AsyncGenerator<LogBatch> {
  for (const p of await listWindowPartitions(env, from, to, options)) yield* readPartition(p, from, to, options);
}
