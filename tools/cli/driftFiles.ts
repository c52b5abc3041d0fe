// Datasets for the drift CLI's file mode: CSV with a header row, NDJSON (one object per line) or Parquet, read whole
// into numeric columns (no sampling, so the statistics equal SciPy's on the same files).
//
// Numbers: CSV cells are parsed with Number() (correctly rounded, like Python's float()); an empty cell, `nan`/`NaN`
// /`NA`/`null` is NaN and `inf`/`Infinity` (either sign) is infinite, as numpy reads them. NDJSON null is NaN. A
// column with any other non-numeric value is not a feature (an id, a label) and is listed as skipped.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { queryParquet } from '../../shared/logs/parquet';

export interface Dataset {
  file: string;
  rows: number;
  columns: Map<string, Float64Array>;
  /** Columns left out because they hold text. */
  skipped: string[];
}

const NAN_WORDS = new Set(['', 'nan', 'na', 'n/a', 'null', 'none']);
const POS_INF = new Set(['inf', '+inf', 'infinity', '+infinity']);
const NEG_INF = new Set(['-inf', '-infinity']);

/** A cell as a number, or undefined when it is text. */
export function parseCell(raw: string): number | undefined {
  const s = raw.trim();
  const lower = s.toLowerCase();
  if (NAN_WORDS.has(lower)) return Number.NaN;
  if (POS_INF.has(lower)) return Infinity;
  if (NEG_INF.has(lower)) return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/** One CSV record (RFC 4180 quoting; no newlines inside quotes). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

class ColumnBuilder {
  values: number[] = [];
  text = false;
}

function finish(file: string, names: string[], builders: ColumnBuilder[], rows: number): Dataset {
  const columns = new Map<string, Float64Array>();
  const skipped: string[] = [];
  names.forEach((name, i) => {
    if (builders[i].text) skipped.push(name);
    else columns.set(name, Float64Array.from(builders[i].values));
  });
  return { file, rows, columns, skipped };
}

async function readCsv(file: string): Promise<Dataset> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let names: string[] | undefined;
  let builders: ColumnBuilder[] = [];
  let rows = 0;
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (!names) {
      names = splitCsvLine(line.replace(/^\uFEFF/, '')).map((n) => n.trim());
      if (new Set(names).size !== names.length) throw new Error(`${file}: duplicate column names in the header`);
      builders = names.map(() => new ColumnBuilder());
      continue;
    }
    if (line === '') continue;
    const cells = splitCsvLine(line);
    if (cells.length !== names.length) throw new Error(`${file}:${lineNo}: ${cells.length} cells, the header has ${names.length}`);
    for (let i = 0; i < cells.length; i++) {
      const b = builders[i];
      if (b.text) continue;
      const v = parseCell(cells[i]);
      if (v === undefined) b.text = true;
      else b.values.push(v);
    }
    rows++;
  }
  if (!names) throw new Error(`${file}: empty file (a header row of feature names is needed)`);
  return finish(file, names, builders, rows);
}

async function readNdjson(file: string): Promise<Dataset> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  const index = new Map<string, number>();
  const names: string[] = [];
  const builders: ColumnBuilder[] = [];
  let rows = 0;
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`${file}:${lineNo}: not valid JSON`);
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`${file}:${lineNo}: not a JSON object`);
    for (const key of Object.keys(obj)) {
      if (!index.has(key)) {
        if (rows > 0)
          throw new Error(`${file}:${lineNo}: key ${JSON.stringify(key)} is not on the first line (every line needs the same keys)`);
        index.set(key, names.length);
        names.push(key);
        builders.push(new ColumnBuilder());
      }
    }
    for (let i = 0; i < names.length; i++) {
      const b = builders[i];
      if (b.text) continue;
      const v = obj[names[i]];
      if (v === undefined) throw new Error(`${file}:${lineNo}: missing key ${JSON.stringify(names[i])}`);
      if (v === null) b.values.push(Number.NaN);
      else if (typeof v === 'number') b.values.push(v);
      else if (typeof v === 'string' && parseCell(v) !== undefined) b.values.push(parseCell(v)!);
      else b.text = true;
    }
    rows++;
  }
  return finish(file, names, builders, rows);
}

const NUMERIC_PARQUET =
  /^(FLOAT|DOUBLE|REAL|DECIMAL.*|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|BOOLEAN)$/;

async function readParquet(file: string): Promise<Dataset> {
  // The project's one Parquet engine (DuckDB, shared/logs/parquet.ts), one column at a time to bound memory.
  const lit = `'${path.resolve(file).replace(/'/g, "''")}'`;
  const schema = await queryParquet(`DESCRIBE SELECT * FROM read_parquet(${lit})`);
  const [{ n }] = await queryParquet(`SELECT count(*) AS n FROM read_parquet(${lit})`);
  const columns = new Map<string, Float64Array>();
  const skipped: string[] = [];
  for (const { column_name, column_type } of schema) {
    const name = String(column_name);
    if (!NUMERIC_PARQUET.test(String(column_type))) {
      skipped.push(name);
      continue;
    }
    const rows = await queryParquet(`SELECT CAST("${name.replace(/"/g, '""')}" AS DOUBLE) AS v FROM read_parquet(${lit})`);
    columns.set(
      name,
      Float64Array.from(rows, (r) => (r.v === null ? Number.NaN : Number(r.v))),
    );
  }
  return { file, rows: Number(n), columns, skipped };
}

export type DatasetFormat = 'csv' | 'ndjson' | 'parquet';

export function formatOf(file: string): DatasetFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.ndjson' || ext === '.jsonl' || ext === '.json') return 'ndjson';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  throw new Error(`${file}: unknown format (use .csv, .ndjson/.jsonl or .parquet)`);
}

export async function readDataset(file: string): Promise<Dataset> {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  switch (formatOf(file)) {
    case 'csv':
      return readCsv(file);
    case 'ndjson':
      return readNdjson(file);
    case 'parquet':
      return readParquet(file);
  }
}
