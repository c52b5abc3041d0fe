// Raw micro-batches: CSV (RFC 4180) with a header line naming the columns of `LOG_COLUMNS` in order, strings
// always quoted, NULL as an empty unquoted field. Chosen over NDJSON after measuring both here: a batch is written
// whole by one writer (block blobs are immutable once committed, so "append" means "another small blob"), and
// compaction cost is dominated by moving and parsing raw bytes. Without 60 repeated key names a row is about
// 600 bytes instead of 1,300, and DuckDB's CSV reader parses it several times faster than NDJSON. The header keeps
// each blob self-describing (a blob whose header is not this schema's is quarantined, never misread), and every
// tool (DuckDB, pandas, a spreadsheet) reads it. What makes a raw row valid is defined once, in SQL, in
// `parquet.ts` (`validateRawFiles`).
import fs from 'node:fs';
import { FlatLogRow, LOG_COLUMNS } from './logSchema';

export const RAW_LOG_CONTENT_TYPE = 'text/csv';
export const RAW_LOG_HEADER = LOG_COLUMNS.map((c) => c.name).join(',');

function quote(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** One CSV line (no newline). Strings never hold control characters (`toFlatRow` refuses them). */
export function serializeRow(row: FlatLogRow): string {
  const r = row as unknown as Record<string, string | number | boolean | null | undefined>;
  let line = '';
  for (let i = 0; i < LOG_COLUMNS.length; i++) {
    const c = LOG_COLUMNS[i];
    const v = r[c.name];
    if (i) line += ',';
    if (v === null || v === undefined) continue;
    line += c.type === 'VARCHAR' || c.type === 'TIMESTAMPTZ' ? quote(String(v)) : String(v);
  }
  return line;
}

/** The body of one raw blob: header, then the lines. */
export function rawBatchBody(lines: readonly string[]): Buffer {
  return Buffer.from(`${RAW_LOG_HEADER}\n${lines.join('\n')}\n`, 'utf8');
}

/** Undefined when the file starts with this schema's header, else why not. */
export function rawHeaderProblem(file: string): string | undefined {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(RAW_LOG_HEADER.length + 1);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    if (n === 0) return 'no rows';
    const head = buf.subarray(0, n).toString('utf8');
    return head === `${RAW_LOG_HEADER}\n` ? undefined : "the header line is not the log schema's column list";
  } finally {
    fs.closeSync(fd);
  }
}

/** Split one CSV line into fields; quoted fields come back unquoted, an empty unquoted field as null. */
function splitLine(line: string): (string | null)[] {
  const out: (string | null)[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let s = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new Error('unterminated quoted field');
        s += line.slice(i, q);
        if (line[q + 1] === '"') {
          s += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(s);
    } else {
      const comma = line.indexOf(',', i);
      const field = comma < 0 ? line.slice(i) : line.slice(i, comma);
      out.push(field === '' ? null : field);
      i = comma < 0 ? line.length : comma;
    }
    if (i >= line.length) break;
    if (line[i] !== ',') throw new Error('garbage after a quoted field');
    i++;
    if (i === line.length) {
      out.push(null);
      break;
    }
  }
  return out;
}

/**
 * The rows of a raw blob written by this project's logger, typed (tests and tools that read a few raw blobs; the
 * compactor and the window reader read raw blobs with DuckDB).
 */
export function parseRawLog(content: Buffer | string): FlatLogRow[] {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines[0] !== RAW_LOG_HEADER) throw new Error("the header line is not the log schema's column list");
  return lines.slice(1).map((line) => {
    const fields = splitLine(line);
    if (fields.length !== LOG_COLUMNS.length) throw new Error(`expected ${LOG_COLUMNS.length} fields, found ${fields.length}`);
    const row: Record<string, unknown> = {};
    LOG_COLUMNS.forEach((c, i) => {
      const f = fields[i];
      if (f === null) row[c.name] = null;
      else if (c.type === 'FLOAT' || c.type === 'DOUBLE') row[c.name] = Number(f);
      else if (c.type === 'BOOLEAN') row[c.name] = f === 'true';
      else row[c.name] = f;
    });
    return row as FlatLogRow;
  });
}
