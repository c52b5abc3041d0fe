// Raw micro-batches: NDJSON, one flat row per line, keys in column order. Chosen because a batch is written whole
// by one writer (Blob block blobs are immutable once committed, so "append" means "another small blob"), because
// a partial or corrupted blob is detected line by line with a line number in the quarantine reason, and because
// DuckDB reads NDJSON natively with explicit column types, which keeps compaction fast.
import fs from 'node:fs';
import readline from 'node:readline';
import { hourPartition, LogPartition } from '../blobLayout';
import { checkFlatRow, FlatLogRow, LogRecordError } from './logSchema';

export const RAW_LOG_CONTENT_TYPE = 'application/x-ndjson';

export function serializeRow(row: FlatLogRow): string {
  return JSON.stringify(row);
}

/** A raw blob that is not a valid micro-batch; `reason` goes to the quarantine metadata. */
export class CorruptRawLogError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'CorruptRawLogError';
  }
}

type Where = Pick<LogPartition, 'env' | 'date' | 'hour'>;

function checkLine(line: string, lineNo: number, where?: Where): FlatLogRow {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new CorruptRawLogError(`line ${lineNo}: not valid JSON`);
  }
  let row: FlatLogRow;
  try {
    row = checkFlatRow(parsed);
  } catch (err) {
    if (err instanceof LogRecordError) throw new CorruptRawLogError(`line ${lineNo}: ${err.message}`);
    throw err;
  }
  if (where) {
    const { date, hour } = hourPartition(new Date(row.time));
    if (row.environment !== where.env || date !== where.date || hour !== where.hour) {
      throw new CorruptRawLogError(`line ${lineNo}: row of env=${row.environment} ${date} ${hour}h in partition env=${where.env} ${where.date} ${where.hour}h`);
    }
  }
  return row;
}

/** Parse a whole raw blob; throws CorruptRawLogError on the first bad line, or when the blob holds no rows. */
export function parseRawLog(content: Buffer | string, where?: Where): FlatLogRow[] {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  const rows: FlatLogRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '' && i === lines.length - 1) break;
    rows.push(checkLine(lines[i], i + 1, where));
  }
  if (rows.length === 0) throw new CorruptRawLogError('no rows');
  if (!text.endsWith('\n')) throw new CorruptRawLogError('truncated: the last line has no newline');
  return rows;
}

/**
 * Check a raw blob saved to a file, one line at a time (bounded memory), calling `onRow` for each row. Returns the
 * row count; throws CorruptRawLogError like `parseRawLog`.
 */
export async function scanRawLogFile(file: string, where: Where | undefined, onRow?: (row: FlatLogRow) => void): Promise<number> {
  const size = fs.statSync(file).size;
  if (size === 0) throw new CorruptRawLogError('no rows');
  const fd = fs.openSync(file, 'r');
  try {
    const last = Buffer.alloc(1);
    fs.readSync(fd, last, 0, 1, size - 1);
    if (last[0] !== 0x0a) throw new CorruptRawLogError('truncated: the last line has no newline');
  } finally {
    fs.closeSync(fd);
  }
  const lines = readline.createInterface({ input: fs.createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    const row = checkLine(line, n + 1, where);
    n++;
    onRow?.(row);
  }
  return n;
}
