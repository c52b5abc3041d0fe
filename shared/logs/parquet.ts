// The only module that touches a Parquet library. The choice is DuckDB (@duckdb/node-api); docs/logs.md has the
// measurements: it is the one candidate that compacts well above 50,000 rows/s on one core with bounded memory
// (parquetjs-lite shreds row by row at a few thousand rows/s; hyparquet-writer builds whole columns in the JS
// heap, and both hyparquet packages are ESM-only, which this CommonJS app and its jest setup cannot load).
//
// Files are Parquet format 1 data pages, SNAPPY, plain encodings for FLOAT/DOUBLE and dictionaries for strings,
// TIMESTAMP(isAdjustedToUTC, MICROS) for `time`: what pyarrow, Spark, DuckDB and parquetjs-lite all read. The log
// schema version is stored in the footer's key-value metadata.
//
// One DuckDB instance per process, created on first use with one thread and a memory limit (it spills to a temp
// folder beyond it), so a compaction holds a bounded amount of memory whatever the hour's size.
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { getConfig } from '../platform/config';
import { LogBatch, LogBatchBuilder } from './logBatch';
import { LOG_COLUMNS, LOG_SCHEMA_VERSION, SCHEMA_VERSION_KEY } from './logSchema';
import { rawHeaderProblem } from './rawLogFormat';
import { processTempDir } from '../platform/tempSpace';
import { checkpoint } from '../platform/cooperative';

export interface ParquetEngineOptions {
  memoryLimitMb: number;
  threads: number;
  tempDirectory: string;
}

let instance: Promise<DuckDBInstance> | undefined;

function engineOptionsFromConfig(): ParquetEngineOptions {
  return {
    memoryLimitMb: getConfig().compactionMemoryLimitMb,
    threads: 1,
    tempDirectory: path.join(processTempDir(), 'duckdb-spill'),
  };
}

async function getInstance(): Promise<DuckDBInstance> {
  instance ??= (async () => {
    // Required lazily: module load must never fail, and the native binding costs ~100 ms to load.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const o = engineOptionsFromConfig();
    return DuckDBInstance.create(':memory:', {
      threads: String(o.threads),
      memory_limit: `${o.memoryLimitMb}MB`,
      temp_directory: o.tempDirectory,
      preserve_insertion_order: 'true',
      // Only local files the app created itself are read; no extension downloads, no remote paths.
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    });
  })();
  try {
    return await instance;
  } catch (err) {
    instance = undefined;
    throw err;
  }
}

/** Close the process's DuckDB instance (tests and benchmarks; the next use opens a new one). */
export async function closeParquetEngine(): Promise<void> {
  const current = instance;
  instance = undefined;
  if (current) (await current.catch(() => undefined))?.closeSync();
}

async function withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  const db = await getInstance();
  const c = await db.connect();
  try {
    return await fn(c);
  } finally {
    c.closeSync();
  }
}

/** A single-quoted SQL string literal. */
function lit(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function ident(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** Types DuckDB parses raw fields as; FLOAT columns go through DOUBLE so that "not a float32 value" is detectable. */
function rawType(type: string): string {
  switch (type) {
    case 'TIMESTAMPTZ':
      return 'VARCHAR';
    case 'FLOAT':
      return 'DOUBLE';
    default:
      return type;
  }
}

/** The hour partition raw rows must belong to. */
export interface RawPartition {
  env: string;
  date: string;
  hour: string;
}

/** `read_csv` over raw files with the log's columns and types; `filename` adds the file of each row. */
function rawSource(files: readonly string[], filename: boolean): string {
  const columns = `{${LOG_COLUMNS.map((c) => `${lit(c.name)}: ${lit(rawType(c.type))}`).join(', ')}}`;
  return (
    `read_csv([${files.map(lit).join(', ')}], header = true, columns = ${columns}, delim = ',', quote = '"', escape = '"', ` +
    `auto_detect = false, strict_mode = true, allow_quoted_nulls = false, null_padding = false` +
    `${filename ? ', filename = true' : ''})`
  );
}

/**
 * What makes a raw row valid, as named SQL conditions: the one definition the compactor (what goes into Parquet,
 * what is quarantined) and the window reader (which raw blobs count) share, so both always agree.
 */
function rowChecks(p: RawPartition): Record<string, string> {
  // Each check looks at one thing (a missing value is reported once, by the first).
  const required = LOG_COLUMNS.filter((c) => !c.nullable).map((c) => `${ident(c.name)} IS NOT NULL`);
  const floats = LOG_COLUMNS.filter((c) => c.type === 'FLOAT').map(
    (c) => `(${ident(c.name)} IS NULL OR CAST(CAST(${ident(c.name)} AS FLOAT) AS DOUBLE) = ${ident(c.name)})`,
  );
  const doubles = LOG_COLUMNS.filter((c) => c.type === 'DOUBLE').map((c) => `(${ident(c.name)} IS NULL OR isfinite(${ident(c.name)}))`);
  return {
    'a required value is missing': required.join(' AND '),
    [`time is not a canonical UTC timestamp of ${p.date} ${p.hour}h`]:
      `regexp_full_match("time", '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z') AND left("time", 13) = ${lit(`${p.date}T${p.hour}`)} ` +
      `AND TRY_CAST("time" AS TIMESTAMPTZ) IS NOT NULL`,
    [`environment is not ${p.env}`]: `environment = ${lit(p.env)}`,
    "prediction is not 'ham' or 'spam'": `prediction IN ('ham', 'spam')`,
    'a feature is not a float32 value': floats.join(' AND '),
    'a number is not finite': doubles.join(' AND '),
  };
}

export interface RawFileVerdict {
  rows: number;
  /** Why the file is not a valid micro-batch; undefined when it is. */
  problem?: string;
}

/** DuckDB's error, short: its first line plus the line that says which column or field count was wrong. */
function firstLine(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const detail = lines.slice(1).find((l) => /column|Expected Number of Columns/i.test(l));
  return [lines[0], detail].filter(Boolean).join(' ').slice(0, 500);
}

/** Validate raw files in one pass; throws when DuckDB cannot parse one of them (malformed JSON, wrong type). */
async function validateTogether(files: readonly string[], p: RawPartition): Promise<Map<string, RawFileVerdict>> {
  const checks = Object.entries(rowChecks(p));
  const counts = checks.map(([, expr], i) => `count(*) FILTER (WHERE NOT coalesce((${expr}), false)) AS bad${i}`).join(', ');
  const sql = `SELECT filename, count(*) AS n, ${counts} FROM ${rawSource(files, true)} GROUP BY filename`;
  const rows = await withConnection(async (c) => (await c.runAndReadAll(sql)).getRowObjectsJS());
  const out = new Map<string, RawFileVerdict>();
  for (const f of files) out.set(f, { rows: 0, problem: 'no rows' });
  for (const r of rows) {
    const n = Number(r.n);
    const problems = checks.map(([name], i) => [name, Number(r[`bad${i}`])] as const).filter(([, k]) => k > 0);
    out.set(r.filename as string, {
      rows: n,
      ...(problems.length ? { problem: `${problems.map(([name, k]) => `${k} of ${n} rows: ${name}`).join('; ')}` } : {}),
    });
  }
  return out;
}

/**
 * Check raw CSV files against the log schema and their partition; one DuckDB pass over all of them, and file by
 * file only when that pass fails (a malformed file), to name the culprit.
 */
export async function validateRawFiles(files: readonly string[], p: RawPartition): Promise<Map<string, RawFileVerdict>> {
  const out = new Map<string, RawFileVerdict>();
  const readable: string[] = [];
  for (const f of files) {
    const problem = rawHeaderProblem(f);
    if (problem) out.set(f, { rows: 0, problem });
    else readable.push(f);
  }
  if (readable.length === 0) return out;
  try {
    for (const [f, v] of await validateTogether(readable, p)) out.set(f, v);
    return out;
  } catch (err) {
    if (!isFileContentError(err)) throw err;
    if (readable.length === 1) return out.set(readable[0], { rows: 0, problem: `unreadable: ${firstLine((err as Error).message)}` });
  }
  for (const f of readable) {
    try {
      out.set(f, (await validateTogether([f], p)).get(f)!);
    } catch (err) {
      if (!isFileContentError(err)) throw err;
      out.set(f, { rows: 0, problem: `unreadable: ${firstLine((err as Error).message)}` });
    }
  }
  return out;
}

/**
 * Whether a DuckDB error is about the bytes of the file read (a CSV that does not parse, a field that does not
 * convert), the only errors that make a raw blob corrupt. Anything else (out of memory, a full temp disk, the
 * engine failing to start, a bad setting) says nothing about the blob: it must fail the run, which leaves the raw
 * blobs in place for the next one, instead of quarantining valid logs.
 */
export function isFileContentError(err: unknown): boolean {
  // Duck-typed: the native binding's errors need not be instances of this realm's Error (jest runs tests in a vm).
  const message = (err as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && /^(Invalid Input Error|Conversion Error): /.test(message);
}

export interface ParquetWriteOptions {
  rowGroupRows: number;
}

/**
 * Convert validated raw CSV files into one Parquet file, rows in file order then line order. Returns the number
 * of rows written.
 */
export async function writeParquetFromRawFiles(files: readonly string[], outFile: string, options: ParquetWriteOptions): Promise<number> {
  if (files.length === 0) throw new RangeError('no raw files to convert');
  return copyToParquet(rawSource(files, false), outFile, options);
}

/**
 * Merge Parquet parts (of one hour) into one file, rows in part order, written exactly as a compaction writes a
 * part. Returns the number of rows written.
 */
export async function mergeParquetFiles(files: readonly string[], outFile: string, options: ParquetWriteOptions): Promise<number> {
  if (files.length === 0) throw new RangeError('no Parquet parts to merge');
  return copyToParquet(`read_parquet([${files.map(lit).join(', ')}])`, outFile, options);
}

/** The one way a part is written: the log columns cast to their types, snappy, bounded row groups, the schema version. */
async function copyToParquet(source: string, outFile: string, options: ParquetWriteOptions): Promise<number> {
  const select = LOG_COLUMNS.map((c) => `CAST(${ident(c.name)} AS ${c.type}) AS ${ident(c.name)}`).join(', ');
  const sql =
    `COPY (SELECT ${select} FROM ${source}) TO ${lit(outFile)} ` +
    `(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${Math.floor(options.rowGroupRows)}, ` +
    `KV_METADATA {${SCHEMA_VERSION_KEY}: ${lit(String(LOG_SCHEMA_VERSION))}})`;
  return withConnection(async (c) => {
    const result = await c.run(sql);
    return Number(result.rowsChanged);
  });
}

export interface ParquetFileInfo {
  rows: number;
  rowGroups: number;
  schemaVersion: number | undefined;
  columns: { name: string; type: string; logicalType: string | null }[];
  /** The footer's key-value metadata. */
  metadata: Record<string, string>;
}

export async function parquetFileInfo(file: string): Promise<ParquetFileInfo> {
  return withConnection(async (c) => {
    const rowsOf = async (sql: string) => (await c.runAndReadAll(sql)).getRowObjectsJS();
    const [meta] = await rowsOf(`SELECT num_rows, num_row_groups FROM parquet_file_metadata(${lit(file)})`);
    const kv = await rowsOf(`SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(${lit(file)})`);
    const schema = await rowsOf(`SELECT name, type, logical_type FROM parquet_schema(${lit(file)}) WHERE type IS NOT NULL`);
    const version = kv.find((r) => r.key === SCHEMA_VERSION_KEY)?.value;
    return {
      metadata: Object.fromEntries(kv.map((r) => [r.key as string, r.value as string])),
      rows: Number(meta.num_rows),
      rowGroups: Number(meta.num_row_groups),
      schemaVersion: version === undefined ? undefined : Number(version),
      columns: schema.map((r) => ({
        // VARCHAR columns: DuckDB hands them over as strings.
        name: r.name as string,
        type: r.type as string,
        logicalType: r.logical_type === null ? null : (r.logical_type as string),
      })),
    };
  });
}

export interface ParquetReadOptions {
  /** Columns to read (already checked); only these are decoded. */
  columns: readonly string[];
  /** Half-open time window [from, to), epoch ms; rows outside are skipped (row groups pruned by their statistics). */
  fromMs?: number;
  toMs?: number;
  /** Rows per yielded batch (at most). */
  batchRows: number;
}

function selectExpr(name: string, raw: boolean): string {
  // Epoch ms as DOUBLE: exact for the millisecond times the logger writes, and a plain Float64Array for readers.
  if (name === 'time') return `CAST(epoch_ms(CAST("time" AS TIMESTAMPTZ)) AS DOUBLE) AS "time"`;
  const type = LOG_COLUMNS.find((c) => c.name === name)!.type;
  return raw ? `CAST(${ident(name)} AS ${type}) AS ${ident(name)}` : ident(name);
}

/**
 * A TIMESTAMPTZ literal for epoch ms. Written with its `Z`: a TIMESTAMP cast to TIMESTAMPTZ (make_timestamp) is
 * read in DuckDB's session time zone, which follows the process's TZ, and would move the window's edges.
 */
function utcTimestamp(ms: number): string {
  return `CAST(${lit(new Date(Math.floor(ms)).toISOString())} AS TIMESTAMPTZ)`;
}

async function* streamBatches(from: string, raw: boolean, options: ParquetReadOptions): AsyncGenerator<LogBatch> {
  const where: string[] = [];
  const t = raw ? `CAST("time" AS TIMESTAMPTZ)` : `"time"`;
  if (options.fromMs !== undefined) where.push(`${t} >= ${utcTimestamp(options.fromMs)}`);
  if (options.toMs !== undefined) where.push(`${t} < ${utcTimestamp(options.toMs)}`);
  const cols = options.columns.length ? options.columns : ['time'];
  const sql =
    `SELECT ${cols.map((c) => selectExpr(c, raw)).join(', ')} FROM ${from}` + (where.length ? ` WHERE ${where.join(' AND ')}` : '');
  const db = await getInstance();
  const c = await db.connect();
  try {
    const result = await c.stream(sql);
    const builder = new LogBatchBuilder(options.columns, options.batchRows);
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      let offset = 0;
      while (offset < chunk.rowCount) {
        const take = Math.min(chunk.rowCount - offset, builder.capacity - builder.length);
        for (let ci = 0; ci < options.columns.length; ci++) {
          const vector = chunk.getColumnVector(ci);
          const name = options.columns[ci];
          for (let r = 0; r < take; r++) builder.setValue(name, r, vector.getItem(offset + r));
          // Values are copied one by one in JS: a chunk of all 53 columns is 10-20 ms, and DuckDB may hand over the
          // next chunks without waiting. The HTTP requests of the process get their turn in between.
          await checkpoint();
        }
        builder.advance(take);
        offset += take;
        if (builder.full) yield builder.take();
      }
    }
    if (builder.length > 0) yield builder.take();
  } finally {
    c.closeSync();
  }
}

/** Stream a Parquet file's projected columns in batches; memory holds one batch plus DuckDB's bounded buffers. */
export function readParquetBatches(file: string, options: ParquetReadOptions): AsyncGenerator<LogBatch> {
  return streamBatches(`read_parquet(${lit(file)})`, false, options);
}

/** Stream a validated raw CSV file like a Parquet file (the window reader's not-yet-compacted rows). */
export function readRawBatches(file: string, options: ParquetReadOptions): AsyncGenerator<LogBatch> {
  return streamBatches(rawSource([file], false), true, options);
}

/** Run a read-only query over local Parquet files and return plain JS rows (tests, tools). */
export async function queryParquet(sql: string): Promise<Record<string, unknown>[]> {
  return withConnection(async (c) => (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[]);
}

// Files written from JS values (the training dataset, shared/dataset/trainingDataset.ts): the same engine, so the one
// Parquet dialect the repo writes is DuckDB's, whatever the data.

/** Column types `writeParquetRows` takes JS values for. */
export type ParquetValueType = 'VARCHAR' | 'BOOLEAN' | 'TIMESTAMPTZ' | 'BLOB';

export interface ParquetColumn {
  readonly name: string;
  readonly type: ParquetValueType;
  readonly nullable: boolean;
}

/** A value of a row: string (VARCHAR), boolean, Date (TIMESTAMPTZ, millisecond precision), bytes (BLOB) or null. */
export type ParquetCell = string | boolean | Date | Uint8Array | null;

export interface ParquetRowsWriteOptions {
  rowGroupRows: number;
  compression: 'snappy' | 'zstd';
  /** Written to the footer's key-value metadata. */
  metadata: Readonly<Record<string, string>>;
}

let tableSeq = 0;

/**
 * Write rows to one Parquet file in the order given: DuckDB's appender fills a temporary table of a connection of
 * its own, which COPY then writes (DuckDB spills the table beyond its memory limit). Given the same rows, DuckDB's
 * single-threaded writer gives the same bytes. Returns the number of rows written.
 */
export async function writeParquetRows(
  columns: readonly ParquetColumn[],
  rows: Iterable<readonly ParquetCell[]>,
  outFile: string,
  options: ParquetRowsWriteOptions,
): Promise<number> {
  const { timestampTZValue } = await import('@duckdb/node-api');
  const table = `rows_${process.pid}_${++tableSeq}`;
  return withConnection(async (c) => {
    const definition = columns.map((col) => `${ident(col.name)} ${col.type}${col.nullable ? '' : ' NOT NULL'}`).join(', ');
    await c.run(`CREATE TEMP TABLE ${ident(table)} (${definition})`);
    try {
      const appender = await c.createAppender(table, 'main', 'temp');
      try {
        for (const row of rows) {
          columns.forEach((col, i) => {
            const value = row[i];
            if (value === null) appender.appendNull();
            else if (col.type === 'VARCHAR' && typeof value === 'string') appender.appendVarchar(value);
            else if (col.type === 'BOOLEAN' && typeof value === 'boolean') appender.appendBoolean(value);
            else if (col.type === 'TIMESTAMPTZ' && value instanceof Date)
              appender.appendTimestampTZ(timestampTZValue(BigInt(value.getTime()) * 1000n));
            else if (col.type === 'BLOB' && value instanceof Uint8Array) appender.appendBlob(value);
            else throw new TypeError(`column ${col.name} (${col.type}): unexpected value of type ${typeof value}`);
          });
          appender.endRow();
        }
      } finally {
        appender.closeSync();
      }
      const metadata = Object.entries(options.metadata)
        .map(([k, v]) => `${ident(k)}: ${lit(v)}`)
        .join(', ');
      const result = await c.run(
        `COPY temp.main.${ident(table)} TO ${lit(outFile)} (FORMAT parquet, COMPRESSION ${options.compression}, ` +
          `ROW_GROUP_SIZE ${Math.floor(options.rowGroupRows)}${metadata ? `, KV_METADATA {${metadata}}` : ''})`,
      );
      return Number(result.rowsChanged);
    } finally {
      await c.run(`DROP TABLE IF EXISTS temp.main.${ident(table)}`);
    }
  });
}

/**
 * The named columns of a Parquet file as plain JS rows, in file order: VARCHAR as string, BOOLEAN as boolean,
 * TIMESTAMPTZ as Date, BLOB as Buffer, NULL as null.
 */
export async function readParquetRows(file: string, columns: readonly string[]): Promise<Record<string, unknown>[]> {
  return queryParquet(`SELECT ${columns.map(ident).join(', ')} FROM read_parquet(${lit(file)})`);
}
