// The training dataset: the initial set (the SpamAssassin corpus) and the users' feedback, one Parquet schema that
// DuckDB, pyarrow or Spark can query, stored in Blob (paths in shared/platform/blobLayout.ts, docs/model.md). The
// trainer reads it where no corpus package is installed (TRAINING_DATA=blob); the retraining's train step writes the
// feedback snapshot of its cut-off here for the trainer to read, and deletes it when the run ends.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CONTAINERS, datasetPartName, feedbackSnapshotPrefix } from '../platform/blobLayout';
import { ensureContainers, getContainerClient, isBlobNotFound } from '../platform/blobStorage';
import { sha256 } from '../platform/hash';
import { isFileContentError, ParquetColumn, parquetFileInfo, readParquetRows, writeParquetRows } from '../logs/parquet';
import type { LabelledMessage } from '../lifecycle/retraining/types';

/** The columns, in file order. `group`: the corpus folder (easy-ham-1, ..., spam-2), or `feedback`. */
export const DATASET_COLUMNS: readonly ParquetColumn[] = [
  { name: 'message_id', type: 'VARCHAR', nullable: false },
  { name: 'source', type: 'VARCHAR', nullable: false },
  { name: 'group', type: 'VARCHAR', nullable: false },
  { name: 'spam', type: 'BOOLEAN', nullable: false },
  { name: 'received_at', type: 'TIMESTAMPTZ', nullable: true },
  { name: 'message', type: 'BLOB', nullable: false },
];

export const DATASET_SCHEMA_VERSION = 1;
/** Footer key-value metadata: the schema version, and what the rows are (the card's `training.corpus` for the initial set). */
export const DATASET_METADATA_KEYS = { schemaVersion: 'dataset_schema_version', corpus: 'corpus', cutoff: 'cutoff' } as const;

export const DATASET_SOURCES = ['corpus', 'feedback'] as const;
export type DatasetSource = (typeof DATASET_SOURCES)[number];
/** The `group` of every feedback row. */
export const FEEDBACK_GROUP = 'feedback';

export interface DatasetMessage {
  /** The corpus id (`{group}/{file name}`) or the feedback's message key. */
  readonly id: string;
  readonly source: DatasetSource;
  readonly group: string;
  readonly spam: boolean;
  /** The exact RFC 822 bytes. */
  readonly raw: Buffer;
  /** When it was received; undefined for a corpus message without a date that parses. */
  readonly receivedAt: Date | undefined;
}

export interface DatasetContent {
  readonly messages: DatasetMessage[];
  /** Footer metadata of the (first) part. */
  readonly metadata: Record<string, string>;
}

/**
 * Row groups of 2,048 messages (DuckDB's vector size; the corpus's average message makes that about 11 MB of mail, 2 MB
 * compressed): a reader that streams the file holds one group at a time, and a query of labels and times alone skips
 * the message column's pages.
 */
const ROW_GROUP_ROWS = 2048;

/** A dataset in Blob that is missing or not in this schema: the trainer cannot start. */
export class DatasetUnavailableError extends Error {
  override name = 'DatasetUnavailableError';
}

/**
 * Write messages to a Parquet file in the order given (readers get them back in that order), ZSTD-compressed: the
 * corpus's 32.2 MB of mail take 6.8 MB with it and 13.4 MB with Snappy, and every current Parquet reader decodes it.
 * The schema version is added to `metadata`. Returns the rows written.
 */
export async function writeDatasetFile(
  messages: Iterable<DatasetMessage>,
  file: string,
  metadata: Record<string, string>,
): Promise<number> {
  function* rows() {
    for (const m of messages) yield [m.id, m.source, m.group, m.spam, m.receivedAt ?? null, m.raw] as const;
  }
  return writeParquetRows(DATASET_COLUMNS, rows(), file, {
    rowGroupRows: ROW_GROUP_ROWS,
    compression: 'zstd',
    metadata: { ...metadata, [DATASET_METADATA_KEYS.schemaVersion]: String(DATASET_SCHEMA_VERSION) },
  });
}

/** Read a dataset file back, every row checked against the schema; `name` says which file in errors. */
export async function readDatasetFile(file: string, name = file): Promise<DatasetContent> {
  let info;
  try {
    info = await parquetFileInfo(file);
  } catch (err) {
    if (!isFileContentError(err)) throw err;
    throw new DatasetUnavailableError(`${name} is not a Parquet file DuckDB can read: ${(err as Error).message.split('\n')[0]}`, {
      cause: err,
    });
  }
  const version = info.metadata[DATASET_METADATA_KEYS.schemaVersion];
  if (version !== String(DATASET_SCHEMA_VERSION))
    throw new DatasetUnavailableError(
      `${name} is not a training dataset of schema version ${DATASET_SCHEMA_VERSION} (its ${DATASET_METADATA_KEYS.schemaVersion}: ${version ?? 'none'})`,
    );
  const rows = await readParquetRows(
    file,
    DATASET_COLUMNS.map((c) => c.name),
  );
  const messages = rows.map((r, i): DatasetMessage => {
    const { message_id: id, source, group, spam, received_at: receivedAt, message: raw } = r;
    if (
      typeof id !== 'string' ||
      !(DATASET_SOURCES as readonly unknown[]).includes(source) ||
      typeof group !== 'string' ||
      typeof spam !== 'boolean' ||
      !(receivedAt === null || receivedAt instanceof Date) ||
      !Buffer.isBuffer(raw)
    )
      throw new DatasetUnavailableError(`${name}: row ${i} does not match the dataset's columns`);
    return { id, source: source as DatasetSource, group, spam, raw, receivedAt: receivedAt ?? undefined };
  });
  return { messages, metadata: info.metadata };
}

function tempFile(): string {
  return path.join(os.tmpdir(), `dataset-${process.pid}-${randomUUID().slice(0, 8)}.parquet`);
}

export interface UploadedPart {
  /** `{container}/{blob}` */
  readonly blob: string;
  readonly bytes: number;
  readonly sha256: string;
  /** `unchanged`: the blob held these bytes already; `kept`: it held other bytes, left as they were (no overwrite). */
  readonly outcome: 'uploaded' | 'unchanged' | 'kept';
}

/**
 * Upload a dataset file. The content hash goes into the blob's metadata, so that publishing the same bytes again is
 * recognized and skipped; a blob with other bytes is kept unless `overwrite`.
 */
export async function uploadDatasetFile(
  container: string,
  blobName: string,
  file: string,
  options: { overwrite: boolean; rows: number },
): Promise<UploadedPart> {
  const { overwrite } = options;
  const bytes = fs.readFileSync(file);
  const hash = sha256(bytes);
  const blob = getContainerClient(container).getBlockBlobClient(blobName);
  const part = { blob: `${container}/${blobName}`, bytes: bytes.length, sha256: hash };
  try {
    const existing = (await blob.getProperties()).metadata?.sha256;
    if (existing === hash) return { ...part, outcome: 'unchanged' };
    if (!overwrite) return { ...part, outcome: 'kept' };
  } catch (err) {
    if (!isBlobNotFound(err)) throw err;
  }
  try {
    await blob.uploadData(bytes, {
      blobHTTPHeaders: { blobContentType: 'application/vnd.apache.parquet' },
      metadata: { sha256: hash, rows: String(options.rows) },
      // Without overwrite, a blob written meanwhile wins, as one found by the check above does.
      conditions: overwrite ? undefined : { ifNoneMatch: '*' },
      blockSize: 8 * 1024 * 1024,
      concurrency: 2,
    });
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (!overwrite && (status === 409 || status === 412)) return { ...part, outcome: 'kept' };
    throw err;
  }
  return { ...part, outcome: 'uploaded' };
}

export interface StoredDataset extends DatasetContent {
  /** `{container}/{blob}` of each part read, in order. */
  readonly parts: string[];
  readonly bytes: number;
}

/** Every Parquet part under `prefix`, in name order, read into memory; a missing dataset is an error naming the prefix. */
export async function readDatasetBlobs(container: string, prefix: string): Promise<StoredDataset> {
  const client = getContainerClient(container);
  const names: string[] = [];
  try {
    for await (const b of client.listBlobsFlat({ prefix })) if (b.name.endsWith('.parquet')) names.push(b.name);
  } catch (err) {
    if (!isBlobNotFound(err)) throw err;
  }
  if (names.length === 0) throw new DatasetUnavailableError(`no training dataset at ${container}/${prefix} (no Parquet part)`);
  names.sort();
  const messages: DatasetMessage[] = [];
  let metadata: Record<string, string> = {};
  let bytes = 0;
  for (const [i, name] of names.entries()) {
    const file = tempFile();
    try {
      await client.getBlobClient(name).downloadToFile(file);
      bytes += fs.statSync(file).size;
      const part = await readDatasetFile(file, `${container}/${name}`);
      if (i === 0) metadata = part.metadata;
      messages.push(...part.messages);
    } finally {
      fs.rmSync(file, { force: true });
    }
  }
  return { messages, metadata, parts: names.map((n) => `${container}/${n}`), bytes };
}

const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

/** Write messages as one Parquet part in a local temporary file, upload it, remove the file. */
export async function publishDatasetPart(
  messages: Iterable<DatasetMessage>,
  target: { container: string; blob: string; metadata: Record<string, string>; overwrite: boolean },
  progress: (line: string) => void = () => undefined,
): Promise<UploadedPart & { rows: number }> {
  const file = tempFile();
  try {
    let started = performance.now();
    const rows = await writeDatasetFile(messages, file, target.metadata);
    progress(`wrote ${rows} rows as Parquet: ${(fs.statSync(file).size / 1e6).toFixed(1)} MB in ${seconds(started)}`);
    started = performance.now();
    const part = await uploadDatasetFile(target.container, target.blob, file, { overwrite: target.overwrite, rows });
    const what = { uploaded: 'uploaded to', unchanged: 'unchanged: the same bytes are already at', kept: 'kept: other bytes are at' };
    progress(
      `${what[part.outcome]} ${part.blob} (sha256 ${part.sha256.slice(0, 12)}…, ${seconds(started)})${part.outcome === 'kept' ? '; pass --overwrite to replace them' : ''}`,
    );
    return { ...part, rows };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

// Feedback snapshots: the feedback as of a cut-off, for one training run. They hold user mail, and feedback erasure
// does not rewrite them, so they are scratch: the run that wrote one deletes it when it ends, and the next run's
// gather deletes any other (a run stopped from outside); the feedback container's retention rule covers the rest.

/** Write the feedback as of `cutoff` (one row per message) as snapshot `snapshotId`; a rerun overwrites it. */
export async function writeFeedbackSnapshot(
  model: string,
  snapshotId: string,
  cutoff: Date,
  messages: readonly LabelledMessage[],
  progress?: (line: string) => void,
): Promise<UploadedPart & { rows: number }> {
  await ensureContainers([CONTAINERS.feedback]);
  const rows = messages.map((m): DatasetMessage => ({
    id: m.id,
    source: 'feedback',
    group: FEEDBACK_GROUP,
    spam: m.spam,
    raw: m.raw,
    receivedAt: m.receivedAt,
  }));
  return publishDatasetPart(
    rows,
    {
      container: CONTAINERS.feedback,
      blob: feedbackSnapshotPrefix(model, snapshotId) + datasetPartName(0),
      metadata: { [DATASET_METADATA_KEYS.cutoff]: cutoff.toISOString() },
      overwrite: true,
    },
    progress,
  );
}

/** The messages of a feedback snapshot, as the trainer takes them. */
export async function readFeedbackSnapshot(model: string, snapshotId: string): Promise<LabelledMessage[]> {
  const stored = await readDatasetBlobs(CONTAINERS.feedback, feedbackSnapshotPrefix(model, snapshotId));
  return stored.messages.map((m, i) => {
    if (m.source !== 'feedback' || !m.receivedAt)
      throw new DatasetUnavailableError(`${stored.parts.join(', ')}: row ${i} is not feedback with a received time`);
    return { id: m.id, raw: m.raw, spam: m.spam, receivedAt: m.receivedAt };
  });
}

/** Delete the blobs of snapshot `only`, or of every snapshot but `except`; the names deleted. */
export async function deleteFeedbackSnapshots(model: string, which: { only: string } | { except: string }): Promise<string[]> {
  const container = getContainerClient(CONTAINERS.feedback);
  const all = feedbackSnapshotPrefix(model);
  const prefix = 'only' in which ? feedbackSnapshotPrefix(model, which.only) : all;
  const keep = 'except' in which ? feedbackSnapshotPrefix(model, which.except) : undefined;
  const deleted: string[] = [];
  try {
    for await (const blob of container.listBlobsFlat({ prefix })) {
      if (keep && blob.name.startsWith(keep)) continue;
      await container.deleteBlob(blob.name).catch((err: unknown) => {
        if (!isBlobNotFound(err)) throw err;
      });
      deleted.push(blob.name);
    }
  } catch (err) {
    // No feedback container: no snapshot either.
    if (!isBlobNotFound(err)) throw err;
  }
  return deleted;
}
