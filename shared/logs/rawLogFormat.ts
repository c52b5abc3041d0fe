// Raw micro-batches: NDJSON, one flat row per line, keys in column order (`LOG_COLUMNS`). Chosen because a batch is
// written whole by one writer (block blobs are immutable once committed, so "append" means "another small blob"),
// because it is self-describing and readable by people and every tool, and because DuckDB parses NDJSON natively
// with explicit column types: the compactor validates and converts a whole hour in C++, not row by row in JS.
// What makes a raw row valid is defined once, in SQL, in `parquet.ts` (`validateRawFiles`).
import { FlatLogRow } from './logSchema';

export const RAW_LOG_CONTENT_TYPE = 'application/x-ndjson';

export function serializeRow(row: FlatLogRow): string {
  return JSON.stringify(row);
}

/** The rows of a raw blob written by this project's logger (tests and tools; no validation). */
export function parseRawLog(content: Buffer | string): FlatLogRow[] {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as FlatLogRow);
}
