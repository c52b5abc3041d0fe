// Compaction of raw inference-log micro-batches into one Parquet part per run and hour, with a manifest as the
// commit record. docs/logs.md explains the protocol; in short, per hour partition:
//
//   lock     lease the hour's manifest blob (created empty when absent); the lease id is a fencing token: every
//            manifest write carries it, so a compactor whose lease lapsed can never commit
//   recover  delete parts the manifest does not list, of generations it has reached (a crashed or fenced-off run's
//            output, parts a merge replaced), and raw blobs the manifest lists (a run that crashed after its
//            commit, or a writer's retried upload)
//   convert  download the remaining raw blobs to temp files, validate them (corrupt → quarantine with a reason),
//            convert the valid ones with DuckDB into one Parquet file
//   upload   the part under a new unique name (If-None-Match: *)
//   commit   rewrite the manifest with the part and the raw names it holds (If-Match + lease): this is the moment
//            the rows move from raw to Parquet, atomically, for every reader
//   delete   the committed raw blobs
//   merge    when late raw blobs have given the hour more than `maxPartsPerHour` parts: the parts become one (merged
//            part uploaded, manifest committed listing only it, with every raw name the old parts held, old parts
//            deleted); readers that planned with the old parts find one gone and plan the hour again
//
// A crash between any two steps leaves either an uncommitted part (ignored by readers, deleted by the next run)
// or committed raw blobs or replaced parts (ignored by readers, deleted by the next run): never a lost or doubled
// row.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { z } from 'zod';
import {
  compactionManifestPath,
  CONTAINERS,
  ENVIRONMENTS,
  Environment,
  LogPartition,
  logPartitionPrefix,
  parquetPartGeneration,
  parquetPartPath,
  parquetPartPrefix,
  parseLogPartition,
  partitionStart,
  quarantinePath,
  RAW_LOG_EXTENSION,
} from '../platform/blobLayout';
import { conditionalWrite, getContainerClient, isBlobNotFound, readJsonBlob } from '../platform/blobStorage';
import { getConfig } from '../platform/config';
import { LOG_SCHEMA_VERSION } from './logSchema';
import { mergeParquetFiles, validateRawFiles, writeParquetFromRawFiles } from './parquet';
import { errorMessage } from '../platform/errors';
import { makeTempDir, removeTempDir } from '../platform/tempSpace';

export type HourPartition = Pick<LogPartition, 'env' | 'date' | 'hour'>;

export const MANIFEST_VERSION = 1;

export interface ManifestPart {
  /** Blob name of the Parquet part, relative to the container. */
  path: string;
  rows: number;
  /** Raw blob names whose rows this part holds. */
  raw_blobs: string[];
  committed_at: string;
}

export interface CompactionManifest {
  manifest_version: number;
  schema_version: number;
  env: Environment;
  date: string;
  hour: string;
  /** Incremented by every commit; names new parts. */
  generation: number;
  rows: number;
  parts: ManifestPart[];
}

/** Fault injection points for tests (a throw there is a crash at that step). */
export interface CompactionHooks {
  afterQuarantineCopy?(rawBlob: string): void | Promise<void>;
  afterPartUpload?(partPath: string): void | Promise<void>;
  afterCommit?(manifest: CompactionManifest): void | Promise<void>;
  beforeRawDelete?(rawBlob: string): void | Promise<void>;
}

export interface CompactionOptions {
  rowGroupRows: number;
  /** More parts than this in an hour (late raw blobs each add one) are merged into one. */
  maxPartsPerHour: number;
  graceMinutes: number;
  /** Lease length on the manifest (15-60 s); renewed while the run works. */
  leaseSeconds: number;
  /** How long a run waits for another run's lease on the same hour before it leaves the hour to that run. */
  busyWaitMs: number;
  now: () => Date;
  hooks?: CompactionHooks;
  log?: (message: string) => void;
  container?: ContainerClient;
  tempDir?: string;
}

export interface PartitionResult {
  partition: HourPartition;
  status: 'compacted' | 'nothing-to-do' | 'busy';
  rows: number;
  rawBlobs: number;
  quarantined: { blob: string; reason: string }[];
  /** Raw blobs already in the manifest, deleted by this run (recovery). */
  recoveredRaw: number;
  /** Uncommitted parts deleted by this run (recovery). */
  orphanParts: number;
  /** Parts this run merged into one (0: no merge). */
  mergedParts: number;
  part?: string;
  /** Seconds per step (summed over rounds; `commit` includes the part's upload), for the benchmark and the logs. */
  seconds: Record<'list' | 'download' | 'validate' | 'convert' | 'commit' | 'delete' | 'merge', number>;
}

/** Run `fn` over `items` with at most `limit` in flight; the first error rejects after in-flight calls settle. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failed.err;
}

/** Blob requests in flight per run: Blob latency, not CPU, bounds a sequential loop over hundreds of small blobs. */
const BLOB_CONCURRENCY = 16;

export function compactionOptionsFromConfig(overrides: Partial<CompactionOptions> = {}): CompactionOptions {
  const c = getConfig();
  return {
    rowGroupRows: c.compactionRowGroupRows,
    maxPartsPerHour: c.compactionMaxPartsPerHour,
    graceMinutes: c.compactionGraceMinutes,
    leaseSeconds: 60,
    busyWaitMs: 20000,
    now: () => new Date(),
    ...overrides,
  };
}

function containerOf(o: CompactionOptions): ContainerClient {
  return o.container ?? getContainerClient(CONTAINERS.inferenceLogs);
}

export function partitionKey(p: HourPartition): string {
  return `${p.env}/${p.date}/${p.hour}`;
}

/** An hour is compacted once it ended `graceMinutes` ago; later raw blobs of it are compacted by later runs. */
export function isPartitionClosed(p: HourPartition, now: Date, graceMinutes: number): boolean {
  return now.getTime() >= partitionStart(p).getTime() + 3600_000 + graceMinutes * 60_000;
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number })?.statusCode;
}

function codeOf(err: unknown): string | undefined {
  return (err as { code?: string })?.code;
}

function emptyManifest(p: HourPartition): CompactionManifest {
  return {
    manifest_version: MANIFEST_VERSION,
    schema_version: LOG_SCHEMA_VERSION,
    env: p.env,
    date: p.date,
    hour: p.hour,
    generation: 0,
    rows: 0,
    parts: [],
  };
}

const manifestSchema = z.object({
  manifest_version: z.literal(MANIFEST_VERSION),
  schema_version: z.int().positive(),
  env: z.enum(ENVIRONMENTS),
  date: z.string(),
  hour: z.string(),
  generation: z.int().nonnegative(),
  rows: z.int().nonnegative(),
  parts: z.array(z.object({ path: z.string(), rows: z.int().nonnegative(), raw_blobs: z.array(z.string()), committed_at: z.string() })),
});

/**
 * The committed manifest of an hour and its ETag; undefined when the hour was never compacted. A manifest that is
 * not one (not JSON, another format version, another hour's) throws an error naming the blob: which rows the hour
 * holds cannot be known without it, so neither compaction nor a drift window over that hour goes on guessing.
 */
export async function readManifest(
  p: HourPartition,
  container: ContainerClient = getContainerClient(CONTAINERS.inferenceLogs),
): Promise<{ manifest: CompactionManifest; etag: string } | undefined> {
  const name = compactionManifestPath(p);
  let stored: { value: unknown; etag: string } | undefined;
  try {
    stored = await readJsonBlob<unknown>(container, name);
  } catch (err) {
    if (err instanceof SyntaxError)
      throw new Error(`compaction manifest ${name} is not JSON (${err.message}); the hour cannot be read until it is repaired`, {
        cause: err,
      });
    throw err;
  }
  if (!stored) return undefined;
  const parsed = manifestSchema.safeParse(stored.value);
  const problem = !parsed.success
    ? parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
    : partitionKey(parsed.data) !== partitionKey(p)
      ? `it names the hour ${partitionKey(parsed.data)}`
      : undefined;
  if (problem) throw new Error(`compaction manifest ${name} is not valid (${problem}); the hour cannot be read until it is repaired`);
  return { manifest: parsed.data as CompactionManifest, etag: stored.etag };
}

export async function listRawBlobs(container: ContainerClient, p: HourPartition): Promise<string[]> {
  const names: string[] = [];
  for await (const item of container.listBlobsFlat({ prefix: logPartitionPrefix('raw', p) })) {
    if (item.name.endsWith(RAW_LOG_EXTENSION)) names.push(item.name);
  }
  return names.sort();
}

async function listParts(container: ContainerClient, p: HourPartition): Promise<string[]> {
  const names: string[] = [];
  for await (const item of container.listBlobsFlat({ prefix: parquetPartPrefix(p) })) names.push(item.name);
  return names;
}

/** The hour partitions that have raw blobs, for one environment or all. */
export async function listRawPartitions(container: ContainerClient, env?: Environment): Promise<HourPartition[]> {
  const seen = new Map<string, HourPartition>();
  const envs = env ? [env] : ENVIRONMENTS;
  for (const e of envs) {
    for await (const item of container.listBlobsFlat({ prefix: logPartitionPrefix('raw', { env: e }) })) {
      const p = parseLogPartition(item.name);
      if (p && p.kind === 'raw') seen.set(partitionKey(p), { env: p.env, date: p.date, hour: p.hour });
    }
  }
  return [...seen.values()].sort((a, b) => partitionKey(a).localeCompare(partitionKey(b)));
}

interface Lease {
  readonly id: string;
  release(): Promise<void>;
  /** Throws when the lease was lost (renewal failed): the run must stop before it commits. */
  check(): void;
}

async function acquireManifestLease(container: ContainerClient, p: HourPartition, o: CompactionOptions): Promise<Lease | undefined> {
  const blob = container.getBlockBlobClient(compactionManifestPath(p));
  const body = JSON.stringify(emptyManifest(p));
  const deadline = Date.now() + o.busyWaitMs;
  const leaseClient = blob.getBlobLeaseClient(randomUUID());
  for (;;) {
    try {
      await leaseClient.acquireLease(o.leaseSeconds);
      break;
    } catch (err) {
      if (isBlobNotFound(err)) {
        try {
          await blob.upload(body, Buffer.byteLength(body), {
            conditions: { ifNoneMatch: '*' },
            blobHTTPHeaders: { blobContentType: 'application/json' },
          });
        } catch (e) {
          if (isBlobNotFound(e)) await container.createIfNotExists();
          else if (statusOf(e) !== 409 && statusOf(e) !== 412) throw e;
        }
        continue;
      }
      if (statusOf(err) === 409 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250 + Math.random() * 500));
        continue;
      }
      if (statusOf(err) === 409) return undefined;
      throw err;
    }
  }
  let lost: unknown;
  const renew = setInterval(
    () => {
      leaseClient.renewLease().catch((err: unknown) => {
        lost = err;
      });
    },
    Math.max(1000, (o.leaseSeconds * 1000) / 3),
  );
  renew.unref?.();
  return {
    id: leaseClient.leaseId,
    async release() {
      clearInterval(renew);
      await leaseClient.releaseLease().catch(() => undefined);
    },
    check() {
      if (lost) throw new Error(`lost the lease on ${compactionManifestPath(p)}: ${(lost as Error).message}`);
    },
  };
}

/** Move a corrupt raw blob aside: copy (with the reason in metadata) first, delete second; both idempotent. */
async function quarantine(container: ContainerClient, rawBlob: string, file: string, reason: string, o: CompactionOptions): Promise<void> {
  await container.getBlockBlobClient(quarantinePath(rawBlob)).uploadFile(file, {
    metadata: { reason: reason.slice(0, 1024).replace(/[^\x20-\x7e]/g, '?'), source: rawBlob, quarantined_at: o.now().toISOString() },
  });
  await o.hooks?.afterQuarantineCopy?.(rawBlob);
  await container.getBlobClient(rawBlob).deleteIfExists();
}

/** Compact one hour partition; safe to call any number of times, concurrently, after any crash. */
export async function compactPartition(p: HourPartition, o: CompactionOptions): Promise<PartitionResult> {
  const container = containerOf(o);
  const result: PartitionResult = {
    partition: p,
    status: 'nothing-to-do',
    rows: 0,
    rawBlobs: 0,
    quarantined: [],
    recoveredRaw: 0,
    orphanParts: 0,
    mergedParts: 0,
    seconds: { list: 0, download: 0, validate: 0, convert: 0, commit: 0, delete: 0, merge: 0 },
  };
  const lease = await acquireManifestLease(container, p, o);
  if (!lease) {
    result.status = 'busy';
    return result;
  }
  const work = o.tempDir ? fs.mkdtempSync(path.join(o.tempDir, 'compact-')) : makeTempDir('compact-');
  try {
    // New raw blobs of a closed hour can arrive while a run works (late flushes): go round until none are left.
    for (let round = 0; round < 5; round++) {
      const progressed = await compactRound(container, p, o, lease, work, result);
      if (!progressed) break;
    }
    await mergeParts(container, p, o, lease, work, result);
    return result;
  } finally {
    removeTempDir(work);
    await lease.release();
  }
}

/**
 * Recovery of parts: delete the parts `manifest` does not list that were written for a generation it has reached
 * (uncommitted output of a crashed or fenced-off run, or parts a merge replaced). A part written for a newer
 * generation is left alone: this run's manifest may be stale (a run whose lease lapsed during a long pause does not
 * know it yet), and such a part may be another run's committed work. It is deleted once the manifest has moved past
 * it. Returns the deleted names.
 */
async function deleteUnlistedParts(container: ContainerClient, p: HourPartition, manifest: CompactionManifest): Promise<string[]> {
  const listed = new Set(manifest.parts.map((x) => x.path));
  const garbage = (await listParts(container, p)).filter(
    (name) => !listed.has(name) && (parquetPartGeneration(name) ?? Infinity) <= manifest.generation,
  );
  await forEachLimit(garbage, BLOB_CONCURRENCY, async (name) => {
    await container.getBlobClient(name).deleteIfExists();
  });
  return garbage;
}

/**
 * Upload a part and commit the manifest that lists it, under the lease; on a refused commit (lease lost, or raced)
 * the part is removed again. Returns the committed manifest.
 */
async function commitPart(
  container: ContainerClient,
  p: HourPartition,
  o: CompactionOptions,
  lease: Lease,
  current: { manifest: CompactionManifest; etag: string } | undefined,
  file: string,
  rows: number,
  next: (partPath: string, generation: number) => CompactionManifest,
): Promise<{ manifest: CompactionManifest; partPath: string }> {
  const generation = (current?.manifest.generation ?? 0) + 1;
  const partPath = parquetPartPath(p, generation, randomUUID().slice(0, 8));
  await container.getBlockBlobClient(partPath).uploadFile(file, {
    conditions: { ifNoneMatch: '*' },
    blobHTTPHeaders: { blobContentType: 'application/vnd.apache.parquet' },
    metadata: { schema_version: String(LOG_SCHEMA_VERSION), rows: String(rows) },
    blockSize: 8 * 1024 * 1024,
    concurrency: 2,
  });
  await o.hooks?.afterPartUpload?.(partPath);
  const manifest = next(partPath, generation);
  const commit = await conditionalWrite<CompactionManifest>({
    container,
    blob: compactionManifestPath(p),
    value: JSON.stringify(manifest),
    condition: current ? { leaseId: lease.id, ifMatch: current.etag } : { leaseId: lease.id },
    beforeSend: () => lease.check(),
    read: async () => {
      const stored = await readManifest(p, container);
      return stored && { value: stored.manifest, etag: stored.etag };
    },
    isOurs: (stored) => stored.parts.some((x) => x.path === partPath),
  });
  if (commit.outcome === 'written' && commit.recovered) {
    const err = commit.recovered.error;
    o.log?.(
      `commit of ${compactionManifestPath(p)} reported ${statusOf(err) ?? codeOf(err)}, but the manifest lists ${partPath}: committed`,
    );
  } else if (commit.outcome !== 'written') {
    // Only a refusal (the lease lost before sending; 409/412: the lease or the manifest moved on) proves the part
    // can never be committed by this write. Otherwise it is kept: if uncommitted, recovery deletes it once the
    // manifest passes its generation; deleting it now could leave a late-landing manifest listing a missing part.
    const { error: err } = commit;
    const refused = commit.outcome === 'refused';
    if (refused)
      await container
        .getBlobClient(partPath)
        .deleteIfExists()
        .catch(() => undefined);
    throw new Error(
      `commit of ${compactionManifestPath(p)} ${refused ? 'refused' : 'failed'} (${statusOf(err) ?? ''} ${codeOf(err) ?? errorMessage(err)}); ` +
        `the part was ${refused ? 'discarded' : 'kept for recovery to judge'}`,
    );
  }
  await o.hooks?.afterCommit?.(manifest);
  return { manifest, partPath };
}

/**
 * The merge step: an hour with more than `maxPartsPerHour` parts gets one part holding all their rows. Bounded
 * work: it only happens when late raw blobs keep arriving for an hour already compacted.
 */
async function mergeParts(
  container: ContainerClient,
  p: HourPartition,
  o: CompactionOptions,
  lease: Lease,
  work: string,
  result: PartitionResult,
): Promise<void> {
  const started = performance.now();
  const current = await readManifest(p, container);
  if (!current || current.manifest.parts.length <= o.maxPartsPerHour) return;
  const { manifest } = current;
  const files = manifest.parts.map((_, i) => path.join(work, `merge-${i}.parquet`));
  await forEachLimit(manifest.parts, BLOB_CONCURRENCY, async (part, i) => {
    await container.getBlobClient(part.path).downloadToFile(files[i]);
  });
  const out = path.join(work, `merged-${manifest.generation + 1}.parquet`);
  const written = await mergeParquetFiles(files, out, { rowGroupRows: o.rowGroupRows });
  if (written !== manifest.rows)
    throw new Error(`merging ${manifest.parts.length} parts wrote ${written} rows, the manifest holds ${manifest.rows}`);
  for (const f of files) fs.rmSync(f, { force: true });
  const { manifest: merged, partPath } = await commitPart(container, p, o, lease, current, out, written, (partPath, generation) => ({
    ...manifest,
    schema_version: LOG_SCHEMA_VERSION,
    generation,
    parts: [{ path: partPath, rows: written, raw_blobs: manifest.parts.flatMap((x) => x.raw_blobs), committed_at: o.now().toISOString() }],
  }));
  fs.rmSync(out, { force: true });
  const replaced = new Set(manifest.parts.map((x) => x.path));
  const deleted = await deleteUnlistedParts(container, p, merged);
  result.orphanParts += deleted.filter((name) => !replaced.has(name)).length;
  result.mergedParts = manifest.parts.length;
  result.part = partPath;
  result.seconds.merge += (performance.now() - started) / 1000;
  o.log?.(`merged ${partitionKey(p)}: ${manifest.parts.length} parts, ${written} rows → ${partPath}`);
}

/** One pass of the protocol; returns true when it committed a part. */
async function compactRound(
  container: ContainerClient,
  p: HourPartition,
  o: CompactionOptions,
  lease: Lease,
  work: string,
  result: PartitionResult,
): Promise<boolean> {
  let t = performance.now();
  const lap = (step: keyof PartitionResult['seconds']) => {
    const now = performance.now();
    result.seconds[step] += (now - t) / 1000;
    t = now;
  };
  const current = await readManifest(p, container);
  const manifest = current?.manifest ?? emptyManifest(p);
  const committedRaw = new Set(manifest.parts.flatMap((x) => x.raw_blobs));

  result.orphanParts += (await deleteUnlistedParts(container, p, manifest)).length;
  const raw = await listRawBlobs(container, p);
  const recovered = raw.filter((name) => committedRaw.has(name));
  await forEachLimit(recovered, BLOB_CONCURRENCY, async (name) => {
    await container.getBlobClient(name).deleteIfExists();
  });
  result.recoveredRaw += recovered.length;
  const pending = raw.filter((name) => !committedRaw.has(name));
  lap('list');
  if (pending.length === 0) return false;

  const fetched = new Array<{ name: string; file: string } | undefined>(pending.length);
  await forEachLimit(pending, BLOB_CONCURRENCY, async (name, i) => {
    const file = path.join(work, `${i}${RAW_LOG_EXTENSION}`);
    try {
      await container.getBlobClient(name).downloadToFile(file);
      fetched[i] = { name, file };
    } catch (err) {
      if (!isBlobNotFound(err)) throw err; // else deleted since the listing (a run before our lease): nothing to do
    }
  });
  const downloaded = fetched.filter((d): d is { name: string; file: string } => d !== undefined);
  lap('download');
  const verdicts = await validateRawFiles(
    downloaded.map((d) => d.file),
    p,
  );
  lap('validate');
  const valid: { name: string; file: string; rows: number }[] = [];
  for (const d of downloaded) {
    const verdict = verdicts.get(d.file)!;
    if (verdict.problem === undefined) {
      valid.push({ ...d, rows: verdict.rows });
      continue;
    }
    const reason = verdict.problem.split(d.file).join(d.name); // DuckDB names our temp file; say which blob
    await quarantine(container, d.name, d.file, reason, o);
    result.quarantined.push({ blob: d.name, reason });
    o.log?.(`quarantined ${d.name}: ${reason}`);
    fs.rmSync(d.file, { force: true });
  }
  if (valid.length === 0) return false;

  const expected = valid.reduce((s, v) => s + v.rows, 0);
  const out = path.join(work, `part-${manifest.generation + 1}.parquet`);
  const written = await writeParquetFromRawFiles(
    valid.map((v) => v.file),
    out,
    { rowGroupRows: o.rowGroupRows },
  );
  if (written !== expected) throw new Error(`Parquet conversion wrote ${written} rows, the raw blobs hold ${expected}`);
  for (const v of valid) fs.rmSync(v.file, { force: true });
  lap('convert');

  const { partPath } = await commitPart(container, p, o, lease, current, out, written, (partPath, generation) => ({
    ...manifest,
    schema_version: LOG_SCHEMA_VERSION,
    generation,
    rows: manifest.rows + written,
    parts: [...manifest.parts, { path: partPath, rows: written, raw_blobs: valid.map((v) => v.name), committed_at: o.now().toISOString() }],
  }));
  fs.rmSync(out, { force: true });
  lap('commit');

  await forEachLimit(valid, BLOB_CONCURRENCY, async (v) => {
    await o.hooks?.beforeRawDelete?.(v.name);
    await container.getBlobClient(v.name).deleteIfExists();
  });
  lap('delete');
  result.status = 'compacted';
  result.rows += written;
  result.rawBlobs += valid.length;
  result.part = partPath;
  o.log?.(`compacted ${partitionKey(p)}: ${valid.length} raw blobs, ${written} rows → ${partPath}`);
  return true;
}

/** Compact every closed hour that still has raw blobs (one environment or all); errors of one hour do not stop the others. */
export async function compactClosedPartitions(
  o: CompactionOptions,
  env?: Environment,
): Promise<{ results: PartitionResult[]; errors: { partition: HourPartition; error: string }[] }> {
  const container = containerOf(o);
  const now = o.now();
  const results: PartitionResult[] = [];
  const errors: { partition: HourPartition; error: string }[] = [];
  for (const p of await listRawPartitions(container, env)) {
    if (!isPartitionClosed(p, now, o.graceMinutes)) continue;
    try {
      results.push(await compactPartition(p, o));
    } catch (err) {
      errors.push({ partition: p, error: errorMessage(err) });
    }
  }
  return { results, errors };
}

/**
 * What the blob trigger does for a new raw blob: compact the closed hours of its environment (its own hour when
 * that is already closed — a late flush — and any earlier hour still raw). Names outside the layout are ignored.
 */
export async function compactAfterRawBlob(blobName: string, o: CompactionOptions) {
  const p = parseLogPartition(blobName);
  if (!p || p.kind !== 'raw') return { results: [], errors: [], ignored: true as const };
  return { ...(await compactClosedPartitions(o, p.env)), ignored: false as const };
}
