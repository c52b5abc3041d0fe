// Compaction on a private Azurite: raw blobs written by the gateway's logger → Parquet with exactly the same rows
// (every value compared, read by DuckDB and by parquetjs-lite), repeated and parallel deliveries, a crash at
// every step, corrupt blobs, fencing of a compactor that lost its lease.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvocationContext, Timer } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { azuriteConnectionString } from '../../../tools/devhost/azurite';
import { compactLogs } from '../../../functions/compactLogs';
import { compactionSweep } from '../../../functions/compactionSweep';
import { compactionManifestPath, CONTAINERS, parquetPartPath, quarantinePath } from '../../../shared/platform/blobLayout';
import { getContainerClient } from '../../../shared/platform/blobStorage';
import { FEATURE_NAMES } from '../../../shared/serving/features/featureList';
import {
  CompactionHooks,
  CompactionOptions,
  compactClosedPartitions,
  compactionOptionsFromConfig,
  compactPartition,
  HourPartition,
  listRawBlobs,
  readManifest,
} from '../../../shared/logs/compaction';
import { FlatLogRow, InferenceLogRecord, LOG_COLUMN_NAMES, LOG_SCHEMA_VERSION, toFlatRow } from '../../../shared/logs/logSchema';
import { closeParquetEngine, parquetFileInfo, queryParquet } from '../../../shared/logs/parquet';
import { RAW_LOG_HEADER, serializeRow } from '../../../shared/logs/rawLogFormat';
import { syntheticRecords } from '../../../tools/bench/syntheticRecords';
import { readPartition } from '../../../shared/logs/windowReader';
import { logRecords, useLogStorage } from '../../helpers/logStorage';
import { distPath } from '../../helpers/paths';
import { startLossyProxy } from '../../helpers/lossyProxy';
import { setAppEnv } from '../../helpers/env';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const parquetjs = require('parquetjs-lite');

const storage = useLogStorage();
const NOW = new Date('2025-03-12T12:00:00.000Z');
let seed = 1;

function opts(hooks?: CompactionHooks, extra: Partial<CompactionOptions> = {}): CompactionOptions {
  return compactionOptionsFromConfig({ now: () => NOW, hooks, leaseSeconds: 15, busyWaitMs: 60000, ...extra });
}

/** Log `blobs` × `perBlob` records of one hour through the gateway's logger; returns the flat rows. */
async function writeRaw(p: HourPartition, blobs: number, perBlob: number): Promise<FlatLogRow[]> {
  const start = new Date(`${p.date}T${p.hour}:00:00.000Z`);
  const records: InferenceLogRecord[] = [
    ...syntheticRecords(blobs * perBlob, {
      env: p.env,
      start,
      stepMs: Math.floor(3_599_000 / (blobs * perBlob)),
      seed: seed++,
      idPrefix: `${p.env}${p.hour}-${seed}`,
    }),
  ];
  const stats = await logRecords(records, perBlob);
  expect(stats.written).toBe(records.length);
  return records.map(toFlatRow);
}

async function downloadParts(p: HourPartition): Promise<string[]> {
  const m = await readManifest(p, storage.container);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compaction-test-'));
  const files: string[] = [];
  for (const [i, part] of (m?.manifest.parts ?? []).entries()) {
    const file = path.join(dir, `${i}.parquet`);
    await storage.container.getBlobClient(part.path).downloadToFile(file);
    files.push(file);
  }
  return files;
}

/** All rows of the hour's committed parts, as DuckDB reads them, in the logger's flat form. */
async function parquetRows(p: HourPartition): Promise<FlatLogRow[]> {
  const files = await downloadParts(p);
  if (!files.length) return [];
  const cols = LOG_COLUMN_NAMES.map((c) => (c === 'time' ? `strftime("time", '%Y-%m-%dT%H:%M:%S.%gZ') AS "time"` : `"${c}"`)).join(', ');
  const rows = await queryParquet(`SELECT ${cols} FROM read_parquet([${files.map((f) => `'${f}'`).join(', ')}])`);
  return rows as unknown as FlatLogRow[];
}

function byId(rows: FlatLogRow[]): FlatLogRow[] {
  return [...rows].sort((a, b) => a.request_id.localeCompare(b.request_id));
}

async function partsInStorage(p: HourPartition): Promise<string[]> {
  const out: string[] = [];
  for await (const b of storage.container.listBlobsFlat({ prefix: `parquet/env=${p.env}/date=${p.date}/hour=${p.hour}/part-` }))
    out.push(b.name);
  return out;
}

/** The end state every run must reach: no raw blobs, only committed parts, exactly the logged rows. */
async function expectClean(p: HourPartition, expected: FlatLogRow[]): Promise<void> {
  expect(await listRawBlobs(storage.container, p)).toEqual([]);
  const m = (await readManifest(p, storage.container))!.manifest;
  expect((await partsInStorage(p)).sort()).toEqual(m.parts.map((x) => x.path).sort());
  const raws = m.parts.flatMap((x) => x.raw_blobs);
  expect(new Set(raws).size).toBe(raws.length);
  expect(m.rows).toBe(expected.length);
  expect(byId(await parquetRows(p))).toEqual(byId(expected));
}

/** The request ids of an hour as the drift detector's window reader yields them. */
async function readerIds(p: HourPartition): Promise<string[]> {
  const start = new Date(`${p.date}T${p.hour}:00:00.000Z`);
  const ids: string[] = [];
  for await (const b of readPartition(p, start, new Date(start.getTime() + 3_600_000), {
    container: storage.container,
    columns: ['request_id'],
  })) {
    ids.push(...(b.text.request_id as string[]));
  }
  return ids.sort();
}

describe('late raw blobs: an hour with more than maxPartsPerHour parts is merged into one', () => {
  const MAX = 3;
  /** An hour compacted MAX times (one late blob each), then one more late blob: the run that adds part MAX+1 merges. */
  async function lateHour(hour: string): Promise<{ p: HourPartition; rows: FlatLogRow[] }> {
    const p: HourPartition = { env: 'production', date: '2025-03-10', hour };
    const rows: FlatLogRow[] = [];
    for (let late = 0; late < MAX; late++) {
      rows.push(...(await writeRaw(p, 1, 40)));
      const r = await compactPartition(p, opts(undefined, { maxPartsPerHour: MAX }));
      expect({ status: r.status, mergedParts: r.mergedParts }).toEqual({ status: 'compacted', mergedParts: 0 });
    }
    expect((await readManifest(p, storage.container))!.manifest.parts).toHaveLength(MAX);
    rows.push(...(await writeRaw(p, 1, 40)));
    return { p, rows };
  }

  test('every row once in one part; the reader gets every row once before, during and after the merge', async () => {
    const { p, rows } = await lateHour('05');
    const ids = rows.map((r) => r.request_id).sort();
    expect(await readerIds(p)).toEqual(ids); // 3 parts + 1 raw blob
    let during: string[] | undefined;
    let racing: Promise<string[]> | undefined;
    let uploads = 0;
    const r = await compactPartition(
      p,
      opts(
        {
          // A reader that plans with the old parts while the merge commits and deletes them (it plans again when one is gone).
          afterPartUpload: () => {
            if (++uploads === 2) racing = readerIds(p);
          },
          afterCommit: async (m) => {
            if (m.parts.length === 1) during = await readerIds(p); // merged part committed, old parts not yet deleted
          },
        },
        { maxPartsPerHour: MAX },
      ),
    );
    expect(r.mergedParts).toBe(MAX + 1);
    expect(during).toEqual(ids);
    expect(await racing).toEqual(ids);
    const m = (await readManifest(p, storage.container))!.manifest;
    expect(m.parts).toHaveLength(1);
    expect(m.parts[0].raw_blobs).toHaveLength(MAX + 1);
    await expectClean(p, rows);
    expect(await readerIds(p)).toEqual(ids);
    const info = await parquetFileInfo((await downloadParts(p))[0]);
    expect({ rows: info.rows, schemaVersion: info.schemaVersion }).toEqual({ rows: rows.length, schemaVersion: LOG_SCHEMA_VERSION });
  });

  test.each([
    ['after the merged part is uploaded, before the commit', 'upload'],
    ['after the commit, before the old parts are deleted', 'commit'],
  ])('a crash %s → the next run ends with one part, no loss, no duplicate', async (_name, step) => {
    const { p, rows } = await lateHour(step === 'upload' ? '06' : '07');
    let uploads = 0;
    const crash: CompactionHooks =
      step === 'upload'
        ? {
            afterPartUpload: () => {
              if (++uploads === 2) throw new Error('injected crash');
            },
          } // the 1st upload is the late blob's part
        : {
            afterCommit: (m) => {
              if (m.parts.length === 1) throw new Error('injected crash');
            },
          };
    await expect(compactPartition(p, opts(crash, { maxPartsPerHour: MAX }))).rejects.toThrow('injected crash');
    expect(await readerIds(p)).toEqual(rows.map((r) => r.request_id).sort());
    const next = await compactPartition(p, opts(undefined, { maxPartsPerHour: MAX }));
    expect(next.orphanParts).toBe(step === 'upload' ? 1 : MAX + 1);
    expect((await readManifest(p, storage.container))!.manifest.parts).toHaveLength(1);
    await expectClean(p, rows);
  });
});

test('recovery deletes unlisted parts of generations the manifest has reached, never a newer one (a stale run may not know it)', async () => {
  const p: HourPartition = { env: 'staging', date: '2025-03-10', hour: '09' };
  const rows = await writeRaw(p, 2, 30);
  expect((await compactPartition(p, opts())).status).toBe('compacted'); // generation 1
  const stale = parquetPartPath(p, 1, 'crashed1');
  const newer = parquetPartPath(p, 3, 'another');
  for (const name of [stale, newer]) await storage.container.getBlockBlobClient(name).upload('x', 1);
  rows.push(...(await writeRaw(p, 1, 30)));
  const r = await compactPartition(p, opts()); // reads generation 1: the stale part goes, the newer one stays; commits 2
  expect(r.orphanParts).toBe(1);
  expect(await storage.container.getBlobClient(stale).exists()).toBe(false);
  expect(await storage.container.getBlobClient(newer).exists()).toBe(true);
  rows.push(...(await writeRaw(p, 1, 30)));
  await compactPartition(p, opts()); // generation 3 reached: now it is garbage
  expect(await storage.container.getBlobClient(newer).exists()).toBe(false);
  await expectClean(p, rows);
});

describe('compaction', () => {
  test('N raw blobs → one Parquet part per hour with exactly the same rows (all values), readable by DuckDB and parquetjs-lite', async () => {
    const p03: HourPartition = { env: 'production', date: '2025-03-12', hour: '03' };
    const p04: HourPartition = { env: 'production', date: '2025-03-12', hour: '04' };
    const s04: HourPartition = { env: 'staging', date: '2025-03-12', hour: '04' };
    const rows03 = await writeRaw(p03, 12, 250);
    const rows04 = await writeRaw(p04, 3, 100);
    const rowsS = await writeRaw(s04, 2, 10);
    const { results, errors } = await compactClosedPartitions(opts());
    expect(errors).toEqual([]);
    expect(results.map((r) => [r.partition.env, r.partition.hour, r.status, r.rows, r.rawBlobs])).toEqual([
      ['production', '03', 'compacted', 3000, 12],
      ['production', '04', 'compacted', 300, 3],
      ['staging', '04', 'compacted', 20, 2],
    ]);
    await expectClean(p03, rows03);
    await expectClean(p04, rows04);
    await expectClean(s04, rowsS);

    const [file] = await downloadParts(p03);
    const info = await parquetFileInfo(file);
    expect(info).toMatchObject({ rows: 3000, rowGroups: 3, schemaVersion: LOG_SCHEMA_VERSION });
    const types = Object.fromEntries(info.columns.map((c) => [c.name, c.type]));
    for (const f of FEATURE_NAMES) expect(types[f]).toBe('FLOAT');
    expect(types).toMatchObject({
      time: 'INT64',
      probability: 'DOUBLE',
      latency_ms: 'DOUBLE',
      degraded: 'BOOLEAN',
      request_id: 'BYTE_ARRAY',
    });
    expect(info.columns.find((c) => c.name === 'time')!.logicalType).toMatch(/isAdjustedToUTC=1.*MICROS/);

    // An independent Parquet implementation reads the same values.
    const reader = await parquetjs.ParquetReader.openFile(file);
    const cursor = reader.getCursor();
    const seen: Record<string, unknown>[] = [];
    for (let r = await cursor.next(); r; r = await cursor.next()) seen.push(r);
    await reader.close();
    expect(seen).toHaveLength(3000);
    const expected = new Map(rows03.map((r) => [r.request_id, r]));
    for (const r of seen) {
      const e = expected.get(String(r.request_id))!;
      expect(e).toBeDefined();
      // parquetjs-lite hands dictionary-encoded FLOAT values back as their decimal strings: same value, other type.
      for (const f of FEATURE_NAMES) expect(Number(r[f])).toBe(e[f]);
      expect(Number(r.probability)).toBe(e.probability);
      expect(Number(r.latency_ms)).toBe(e.latency_ms);
      expect(Number(r.time)).toBe(Date.parse(e.time));
      expect(r.degraded).toBe(e.degraded);
    }
  });

  test('every raw blob delivered three times, in parallel, through the function → every row exactly once', async () => {
    // The function compacts the hours that are closed by the real clock: use one three hours ago.
    const hourAgo = new Date(Date.now() - 3 * 3600_000).toISOString();
    const p: HourPartition = { env: 'staging', date: hourAgo.slice(0, 10), hour: hourAgo.slice(11, 13) };
    const rows = await writeRaw(p, 10, 200);
    const names = await listRawBlobs(storage.container, p);
    expect(names).toHaveLength(10);
    const deliveries = [...names, ...names, ...names].map((name) =>
      compactLogs(
        Buffer.alloc(0),
        new InvocationContext({
          functionName: 'compactLogs',
          logHandler: () => undefined,
          triggerMetadata: { name: name.slice('raw/'.length) },
        }),
      ),
    );
    await Promise.all(deliveries);
    await expectClean(p, rows);
    expect((await readManifest(p, storage.container))!.manifest.generation).toBe(1);
    // And once more after the end: nothing changes.
    const again = await compactPartition(p, opts());
    expect(again.status).toBe('nothing-to-do');
    await expectClean(p, rows);
  });

  test('the timer sweep compacts closed hours no event compacted, in every environment', async () => {
    const at = (h: number) => new Date(Date.now() - h * 3600_000).toISOString();
    const a: HourPartition = { env: 'production', date: at(5).slice(0, 10), hour: at(5).slice(11, 13) };
    const b: HourPartition = { env: 'staging', date: at(6).slice(0, 10), hour: at(6).slice(11, 13) };
    const rowsA = await writeRaw(a, 2, 30);
    const rowsB = await writeRaw(b, 1, 30);
    const logs: string[] = [];
    await compactionSweep(
      { isPastDue: false, scheduleStatus: { last: '', next: '', lastUpdated: '' } } as Timer,
      new InvocationContext({ functionName: 'compactionSweep', logHandler: (_level, ...args) => logs.push(args.join(' ')) }),
    );
    await expectClean(a, rowsA);
    await expectClean(b, rowsB);
    expect(logs.some((l) => /compaction sweep: \d+ hours compacted/.test(l))).toBe(true);
  });

  test('parallel compactions of one hour: one commits, the others wait for the lease and find nothing left', async () => {
    const p: HourPartition = { env: 'staging', date: '2025-03-12', hour: '07' };
    const rows = await writeRaw(p, 8, 150);
    const results = await Promise.all([1, 2, 3, 4].map(() => compactPartition(p, opts())));
    expect(results.filter((r) => r.status === 'compacted').map((r) => r.rows)).toEqual([1200]);
    await expectClean(p, rows);
  });

  const crashPoints: [string, (fail: () => never) => CompactionHooks][] = [
    ['after the Parquet upload, before the commit', (fail) => ({ afterPartUpload: fail })],
    ['after the commit, before the raw deletes', (fail) => ({ afterCommit: fail })],
    [
      'after deleting some raw blobs, before the others',
      (fail) => ({
        beforeRawDelete: (() => {
          let n = 0;
          return () => {
            if (++n === 3) fail();
          };
        })(),
      }),
    ],
    ['after copying a corrupt blob to quarantine, before deleting it', (fail) => ({ afterQuarantineCopy: fail })],
  ];

  test.each(crashPoints)('a crash %s → the next run ends clean, no loss, no duplicate', async (_name, hooksFor) => {
    const hour = String(10 + crashPoints.findIndex(([n]) => n === _name)).padStart(2, '0');
    const p: HourPartition = { env: 'production', date: '2025-03-11', hour };
    const rows = await writeRaw(p, 6, 100);
    const corrupt = `raw/env=production/date=2025-03-11/hour=${hour}/00000000T000000000Z-corrupt-00000001.csv`;
    await storage.container.getBlockBlobClient(corrupt).upload('not,a,log\n1,2,3\n', 16);
    const crash = () => {
      throw new Error('injected crash');
    };
    await expect(compactPartition(p, opts(hooksFor(crash)))).rejects.toThrow('injected crash');
    const second = await compactPartition(p, opts());
    expect(second.status === 'compacted' || second.recoveredRaw > 0 || second.orphanParts > 0 || second.quarantined.length > 0).toBe(true);
    await expectClean(p, rows);
    expect(await storage.container.getBlobClient(quarantinePath(corrupt)).exists()).toBe(true);
  });

  test('a process killed mid-run while holding the lease: the hour waits for the lease to lapse, then ends clean', async () => {
    const p: HourPartition = { env: 'staging', date: '2025-03-11', hour: '16' };
    const rows = await writeRaw(p, 4, 50);
    // The compiled app (what `npm test` builds first) in a child process that exits right after its commit, without
    // releasing the lease or deleting the raw blobs: a real crash, not an exception.
    const compaction = distPath('shared', 'logs', 'compaction.js');
    const script =
      `const c = require(${JSON.stringify(compaction)});` +
      `c.compactPartition(${JSON.stringify(p)}, c.compactionOptionsFromConfig({ now: () => new Date(${JSON.stringify(NOW.toISOString())}), ` +
      `leaseSeconds: 15, hooks: { afterCommit: () => process.exit(3) } })).then(() => process.exit(0), () => process.exit(1));`;
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['-e', script], {
        env: { ...process.env, AzureWebJobsStorage: storage.azurite.connectionString },
        stdio: 'ignore',
      });
      child.on('exit', resolve);
    });
    expect(code).toBe(3);
    expect(await listRawBlobs(storage.container, p)).toHaveLength(4); // committed, not deleted
    // While the dead process's lease lasts, a run that does not wait leaves the hour alone...
    expect((await compactPartition(p, opts(undefined, { busyWaitMs: 0 }))).status).toBe('busy');
    // ...and one that waits takes over after at most the lease length, and finishes the cleanup.
    const next = await compactPartition(p, opts());
    expect(next).toMatchObject({ status: 'nothing-to-do', recoveredRaw: 4 });
    await expectClean(p, rows);
  }, 90000);

  test('a corrupt raw blob is quarantined with its reason; the rest of the hour is compacted', async () => {
    const p: HourPartition = { env: 'staging', date: '2025-03-12', hour: '08' };
    const rows = await writeRaw(p, 4, 50);
    const prefix = 'raw/env=staging/date=2025-03-12/hour=08/';
    // One valid row of the hour, then variants of it with one field broken (CSV field i = LOG_COLUMN_NAMES[i]).
    const fields = serializeRow({ ...rows[0], request_id: 'x' }).split(',');
    const col = (name: string) => LOG_COLUMN_NAMES.indexOf(name);
    const withField = (name: string, value: string) => fields.map((f, i) => (i === col(name) ? value : f)).join(',');
    const good = fields.join(',');
    const body = (...lines: string[]) => `${RAW_LOG_HEADER}\n${lines.join('\n')}\n`;
    const bad: Record<string, string> = {
      [`${prefix}0-bad-1.csv`]: 'this is not a log\n',
      [`${prefix}0-bad-2.csv`]: body(good, good.slice(0, 40)), // truncated upload
      [`${prefix}0-bad-3.csv`]: body(withField('time', '"2025-03-12T09:00:00.000Z"')), // row of another hour
      [`${prefix}0-bad-4.csv`]: '',
      [`${prefix}0-bad-5.csv`]: body(withField(FEATURE_NAMES[0], '')), // a feature missing
      [`${prefix}0-bad-6.csv`]: body(withField('environment', '"production"')),
      [`${prefix}0-bad-7.csv`]: body(good, withField('probability', 'high')),
      [`${prefix}0-bad-8.csv`]: body(withField(FEATURE_NAMES[1], '0.1')),
      [`${prefix}0-bad-9.csv`]: `${RAW_LOG_HEADER.replace('probability', 'p_spam')}\n${good}\n`, // another schema
    };
    for (const [name, body] of Object.entries(bad)) await storage.container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body));
    const result = await compactPartition(p, opts());
    expect(result.status).toBe('compacted');
    expect(result.rows).toBe(200);
    expect(result.quarantined.map((q) => q.blob).sort()).toEqual(Object.keys(bad).sort());
    const reasons = Object.fromEntries(result.quarantined.map((q) => [q.blob, q.reason]));
    expect(reasons[`${prefix}0-bad-1.csv`]).toMatch(/header line is not the log schema/);
    expect(reasons[`${prefix}0-bad-2.csv`]).toMatch(/unreadable: .*CSV Error on Line: 3.*Expected Number of Columns/);
    expect(reasons[`${prefix}0-bad-3.csv`]).toBe('1 of 1 rows: time is not a canonical UTC timestamp of 2025-03-12 08h');
    expect(reasons[`${prefix}0-bad-4.csv`]).toMatch(/no rows/);
    expect(reasons[`${prefix}0-bad-5.csv`]).toBe('1 of 1 rows: a required value is missing');
    expect(reasons[`${prefix}0-bad-6.csv`]).toBe('1 of 1 rows: environment is not staging');
    expect(reasons[`${prefix}0-bad-7.csv`]).toMatch(/unreadable: .*Line: 3.*converting column "probability"/);
    expect(reasons[`${prefix}0-bad-8.csv`]).toBe('1 of 1 rows: a feature is not a float32 value');
    expect(reasons[`${prefix}0-bad-9.csv`]).toMatch(/header line is not the log schema/);
    for (const name of Object.keys(bad)) {
      const props = await storage.container.getBlobClient(quarantinePath(name)).getProperties();
      expect(props.metadata).toMatchObject({ source: name, reason: reasons[name] });
    }
    await expectClean(p, rows);
  });

  test('a compactor that lost its lease cannot commit; its part is discarded and the lease holder finishes', async () => {
    const p: HourPartition = { env: 'production', date: '2025-03-12', hour: '09' };
    const rows = await writeRaw(p, 3, 100);
    let second: Promise<unknown> | undefined;
    const fencedOff = compactPartition(
      p,
      opts({
        afterPartUpload: async () => {
          // The lease lapses (a long GC pause, say): another run takes the hour and commits first.
          await storage.container.getBlobClient(compactionManifestPath(p)).getBlobLeaseClient().breakLease(0);
          second = compactPartition(p, opts());
          await second;
        },
      }),
    );
    await expect(fencedOff).rejects.toThrow(/refused/);
    await second;
    await expectClean(p, rows);
  });

  test('a commit whose response is lost (the write landed) counts as committed: no row lost, none doubled', async () => {
    const p: HourPartition = { env: 'production', date: '2025-03-09', hour: '04' };
    const rows = await writeRaw(p, 3, 100);
    const manifest = compactionManifestPath(p);
    let armed = true;
    // The first manifest write under the lease reaches Azurite, then the connection is cut before the answer: the
    // SDK retries, and the retry's If-Match fails against the manifest the first attempt wrote.
    const proxy = await startLossyProxy(`http://127.0.0.1:${storage.azurite.port}`, (req) => {
      const drop =
        armed &&
        req.method === 'PUT' &&
        decodeURIComponent(req.url ?? '').includes(`/${manifest}?`) &&
        req.headers['x-ms-lease-id'] !== undefined;
      if (drop) armed = false;
      return drop;
    });
    try {
      const container = BlobServiceClient.fromConnectionString(azuriteConnectionString(Number(new URL(proxy.origin).port)), {
        retryOptions: { maxTries: 3, retryDelayInMs: 10, maxRetryDelayInMs: 50, tryTimeoutInMs: 10_000 },
      }).getContainerClient(storage.container.containerName);
      const lines: string[] = [];
      const result = await compactPartition(p, opts(undefined, { container, log: (line) => lines.push(line) }));
      expect(proxy.dropped).toHaveLength(1);
      expect(lines.some((line) => /reported 412.*committed/.test(line))).toBe(true);
      expect(result).toMatchObject({ status: 'compacted', rows: 300 });
    } finally {
      await proxy.close();
    }
    await expectClean(p, rows);
    expect(await readerIds(p)).toEqual(rows.map((r) => r.request_id).sort());
    expect(await compactPartition(p, opts())).toMatchObject({ status: 'nothing-to-do', recoveredRaw: 0, orphanParts: 0 });
    await expectClean(p, rows);
  });

  test('a commit that times out keeps its part for recovery to judge, whether the late write lands or not: no row lost or doubled', async () => {
    const p: HourPartition = { env: 'production', date: '2025-03-09', hour: '07' };
    const rows = await writeRaw(p, 3, 100);
    const manifest = compactionManifestPath(p);
    let armed = true;
    // The manifest write under the lease is held past BLOB_TIMEOUT_MS before it reaches Azurite: the app's Blob client
    // gives up (an aborted request is not retried), reads a manifest without the part, and must not delete the part,
    // since the write is still on its way.
    const proxy = await startLossyProxy(`http://127.0.0.1:${storage.azurite.port}`, (req) => {
      const hold =
        armed &&
        req.method === 'PUT' &&
        decodeURIComponent(req.url ?? '').includes(`/${manifest}?`) &&
        req.headers['x-ms-lease-id'] !== undefined;
      if (hold) armed = false;
      return hold ? { holdMs: 1500 } : 'pass';
    });
    const restore = setAppEnv({
      AzureWebJobsStorage: azuriteConnectionString(Number(new URL(proxy.origin).port)),
      BLOB_TIMEOUT_MS: '500',
      COMPACTION_ROW_GROUP_ROWS: '1000',
    });
    try {
      await expect(compactPartition(p, opts(undefined, { container: getContainerClient(CONTAINERS.inferenceLogs) }))).rejects.toThrow(
        /failed .*the part was kept for recovery to judge/,
      );
      const deadline = Date.now() + 10_000;
      while (proxy.forwardedLate.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(proxy.forwardedLate).toHaveLength(1); // the late write reached Azurite (refused there: the lease was released)
    } finally {
      restore();
      await proxy.close();
    }
    expect(await listRawBlobs(storage.container, p)).toHaveLength(3);
    expect(await compactPartition(p, opts())).toMatchObject({ status: 'compacted', rows: 300 });
    await expectClean(p, rows);
  });

  test('an engine failure (DuckDB out of memory) fails the run and quarantines nothing; the next run compacts every row', async () => {
    const p: HourPartition = { env: 'production', date: '2025-03-09', hour: '05' };
    const rows = await writeRaw(p, 3, 100);
    // A real out-of-memory error of the process's DuckDB, not a corrupt blob: the blobs must stay where they are.
    await queryParquet("SET memory_limit = '16MB'");
    try {
      await expect(compactPartition(p, opts())).rejects.toThrow(/Out of Memory/);
    } finally {
      await closeParquetEngine(); // the next use opens an instance with the configured limit
    }
    expect(await listRawBlobs(storage.container, p)).toHaveLength(3);
    const quarantined: string[] = [];
    for await (const b of storage.container.listBlobsFlat({ prefix: 'quarantine/' }))
      if (b.name.includes('date=2025-03-09/hour=05')) quarantined.push(b.name);
    expect(quarantined).toEqual([]);
    expect(await compactPartition(p, opts())).toMatchObject({ status: 'compacted', rows: 300, quarantined: [] });
    await expectClean(p, rows);
  });

  test('a manifest that is not one stops the hour with an error naming it; nothing is deleted on a guess', async () => {
    const p: HourPartition = { env: 'staging', date: '2025-03-09', hour: '06' };
    await writeRaw(p, 2, 20);
    const manifest = storage.container.getBlockBlobClient(compactionManifestPath(p));
    for (const [body, message] of [
      ['{"manifest_version": 1, "parts": [', /manifest .*hour=06\/_manifest\.json is not JSON/],
      [JSON.stringify({ manifest_version: 9 }), /is not valid \(manifest_version: .*\)/],
      [
        JSON.stringify({
          manifest_version: 1,
          schema_version: 1,
          env: 'staging',
          date: '2025-03-09',
          hour: '07',
          generation: 0,
          rows: 0,
          parts: [],
        }),
        /it names the hour staging\/2025-03-09\/07/,
      ],
    ] as const) {
      await manifest.upload(body, Buffer.byteLength(body));
      await expect(compactPartition(p, opts(undefined, { busyWaitMs: 0 }))).rejects.toThrow(message);
      await expect(readerIds(p)).rejects.toThrow(message);
      expect(await listRawBlobs(storage.container, p)).toHaveLength(2);
    }
  });

  test('the open hour and the grace period are left raw; later raw blobs of a compacted hour make a second part', async () => {
    const open: HourPartition = { env: 'staging', date: '2025-03-12', hour: '11' };
    const late: HourPartition = { env: 'staging', date: '2025-03-12', hour: '10' };
    await writeRaw(open, 1, 10);
    const first = await writeRaw(late, 2, 10);
    const o = opts(undefined, { graceMinutes: 5, now: () => new Date('2025-03-12T11:03:00.000Z') });
    expect((await compactClosedPartitions(o)).results.map((r) => r.partition.hour)).toEqual([]);
    const o2 = opts(undefined, { graceMinutes: 5, now: () => new Date('2025-03-12T11:06:00.000Z') });
    expect((await compactClosedPartitions(o2)).results.map((r) => [r.partition.hour, r.status])).toEqual([['10', 'compacted']]);
    expect(await listRawBlobs(storage.container, open)).toHaveLength(1);
    const stragglers = await writeRaw(late, 1, 7);
    expect((await compactClosedPartitions(o2)).results.map((r) => [r.partition.hour, r.rows])).toEqual([['10', 7]]);
    const m = (await readManifest(late, storage.container))!.manifest;
    expect(m.parts.map((x) => x.rows)).toEqual([20, 7]);
    expect(m.generation).toBe(2);
    await expectClean(late, [...first, ...stragglers]);
  });
});
