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
import os from 'node:os';
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { getConfig } from '../config';
import { LogBatch, LogBatchBuilder } from './logBatch';
import { LOG_COLUMNS, LOG_SCHEMA_VERSION, SCHEMA_VERSION_KEY } from './logSchema';

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
    tempDirectory: path.join(os.tmpdir(), `duckdb-spill-${process.pid}`),
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

/** JSON types DuckDB parses the raw lines with; FLOAT columns go through DOUBLE so rounding matches Math.fround. */
function rawJsonType(type: string): string {
  switch (type) {
    case 'TIMESTAMPTZ':
      return 'VARCHAR';
    case 'FLOAT':
      return 'DOUBLE';
    default:
      return type;
  }
}

export interface ParquetWriteOptions {
  rowGroupRows: number;
}

/**
 * Convert already-validated raw NDJSON files into one Parquet file, rows in file order then line order. Returns
 * the number of rows written.
 */
export async function writeParquetFromRawFiles(files: readonly string[], outFile: string, options: ParquetWriteOptions): Promise<number> {
  if (files.length === 0) throw new RangeError('no raw files to convert');
  const columns = `{${LOG_COLUMNS.map((c) => `${ident(c.name)}: ${lit(rawJsonType(c.type))}`).join(', ')}}`;
  const select = LOG_COLUMNS.map((c) => `CAST(${ident(c.name)} AS ${c.type}) AS ${ident(c.name)}`).join(', ');
  const source =
    `read_json([${files.map(lit).join(', ')}], format = 'newline_delimited', columns = ${columns}, ` +
    `maximum_object_size = 1048576, ignore_errors = false)`;
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
}

export async function parquetFileInfo(file: string): Promise<ParquetFileInfo> {
  return withConnection(async (c) => {
    const meta = (await (await c.runAndReadAll(`SELECT num_rows, num_row_groups FROM parquet_file_metadata(${lit(file)})`)).getRowObjectsJS())[0];
    const kv = await (await c.runAndReadAll(`SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(${lit(file)})`)).getRowObjectsJS();
    const schema = await (
      await c.runAndReadAll(`SELECT name, type, logical_type FROM parquet_schema(${lit(file)}) WHERE type IS NOT NULL`)
    ).getRowObjectsJS();
    const version = kv.find((r) => r.key === SCHEMA_VERSION_KEY)?.value;
    return {
      rows: Number(meta.num_rows),
      rowGroups: Number(meta.num_row_groups),
      schemaVersion: version === undefined ? undefined : Number(version),
      columns: schema.map((r) => ({ name: String(r.name), type: String(r.type), logicalType: r.logical_type === null ? null : String(r.logical_type) })),
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

function selectExpr(name: string): string {
  // Epoch ms as DOUBLE: exact for the millisecond times the logger writes, and a plain Float64Array for readers.
  return name === 'time' ? `CAST(epoch_ms("time") AS DOUBLE) AS "time"` : ident(name);
}

/** Stream a Parquet file's projected columns in batches; memory holds one batch plus DuckDB's bounded buffers. */
export async function* readParquetBatches(file: string, options: ParquetReadOptions): AsyncGenerator<LogBatch> {
  const where: string[] = [];
  if (options.fromMs !== undefined) where.push(`"time" >= make_timestamp(${Math.floor(options.fromMs * 1000)})::TIMESTAMPTZ`);
  if (options.toMs !== undefined) where.push(`"time" < make_timestamp(${Math.floor(options.toMs * 1000)})::TIMESTAMPTZ`);
  const cols = options.columns.length ? options.columns : ['time'];
  const sql =
    `SELECT ${cols.map(selectExpr).join(', ')} FROM read_parquet(${lit(file)})` + (where.length ? ` WHERE ${where.join(' AND ')}` : '');
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

/** Run a read-only query over local Parquet files and return plain JS rows (tests, tools). */
export async function queryParquet(sql: string): Promise<Record<string, unknown>[]> {
  return withConnection(async (c) => (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[]);
}
