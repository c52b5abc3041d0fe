// The window reader on a private Azurite: the same rows before, during (paused at every step of a compaction, and
// with compactions running concurrently) and after compaction; projection; window bounds; batch bounds.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FEATURE_NAMES } from '../../../shared/serving/features/featureList';
import { CompactionHooks, compactionOptionsFromConfig, compactPartition, HourPartition } from '../../../shared/logs/compaction';
import { batchRows, LogBatch } from '../../../shared/logs/logBatch';
import { FlatLogRow, toFlatRow } from '../../../shared/logs/logSchema';
import { RAW_LOG_HEADER, serializeRow } from '../../../shared/logs/rawLogFormat';
import { syntheticRecords } from '../../../tools/bench/syntheticRecords';
import { emptyWindowStats, listWindowPartitions, readPartition, readWindow, WindowReadOptions } from '../../../shared/logs/windowReader';
import { distPath } from '../../helpers/paths';
import { logRecords, useLogStorage } from '../../helpers/logStorage';

const storage = useLogStorage();
let seed = 100;

const NOW = new Date('2026-11-26T12:00:00.000Z');
const opts = (hooks?: CompactionHooks) => compactionOptionsFromConfig({ now: () => NOW, hooks, leaseSeconds: 15, busyWaitMs: 60000 });

async function writeRaw(p: HourPartition, blobs: number, perBlob: number): Promise<FlatLogRow[]> {
  const start = new Date(`${p.date}T${p.hour}:00:00.000Z`);
  const n = blobs * perBlob;
  const records = [
    ...syntheticRecords(n, { env: p.env, start, stepMs: Math.floor(3_599_000 / n), seed: seed++, idPrefix: `${p.env}${p.hour}-${seed}` }),
  ];
  expect((await logRecords(records, perBlob)).written).toBe(n);
  return records.map(toFlatRow);
}

async function collect(it: AsyncIterable<LogBatch>): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const b of it) rows.push(...batchRows(b));
  return rows.sort((a, b) => String(a.request_id).localeCompare(String(b.request_id)));
}

function expectedRows(rows: FlatLogRow[], from: Date, to: Date): Record<string, unknown>[] {
  return rows
    .filter((r) => Date.parse(r.time) >= from.getTime() && Date.parse(r.time) < to.getTime())
    .map((r) => ({ ...r }))
    .sort((a, b) => a.request_id.localeCompare(b.request_id));
}

const FROM = new Date('2026-11-26T03:00:00.000Z');
const TO = new Date('2026-11-26T06:00:00.000Z');

describe('window reader', () => {
  const p03: HourPartition = { env: 'production', date: '2026-11-26', hour: '03' };
  const p04: HourPartition = { env: 'production', date: '2026-11-26', hour: '04' };
  const p05: HourPartition = { env: 'production', date: '2026-11-26', hour: '05' };
  let all: FlatLogRow[] = [];

  beforeAll(async () => {
    all = [...(await writeRaw(p03, 6, 200)), ...(await writeRaw(p04, 5, 200)), ...(await writeRaw(p05, 2, 50))];
    await writeRaw({ env: 'staging', date: '2026-11-26', hour: '04' }, 1, 30); // another environment: never read
    await compactPartition(p05, opts()); // one hour already compacted before the test starts
  });

  test('the same rows before, at every step of a compaction, and after; all values equal to what was logged', async () => {
    const expected = expectedRows(all, FROM, TO);
    expect(await collect(readWindow('production', FROM, TO))).toEqual(expected);

    const seen: string[] = [];
    const check = (step: string) => async () => {
      seen.push(step);
      expect(await collect(readWindow('production', FROM, TO))).toEqual(expected);
    };
    let deletes = 0;
    await compactPartition(
      p03,
      opts({
        afterPartUpload: check('part uploaded, not committed'),
        afterCommit: check('committed, raw blobs still there'),
        beforeRawDelete: async () => {
          if (++deletes === 3) await check('some raw blobs deleted')();
        },
      }),
    );
    expect(seen).toEqual(['part uploaded, not committed', 'committed, raw blobs still there', 'some raw blobs deleted']);
    expect(await collect(readWindow('production', FROM, TO))).toEqual(expected);

    // A crashed run leaves an uncommitted part and committed raw blobs: still the same rows.
    await expect(
      compactPartition(
        p04,
        opts({
          afterCommit: () => {
            throw new Error('crash');
          },
        }),
      ),
    ).rejects.toThrow('crash');
    expect(await collect(readWindow('production', FROM, TO))).toEqual(expected);
    await compactPartition(p04, opts());
    const stats = emptyWindowStats();
    expect(await collect(readWindow('production', FROM, TO, { stats }))).toEqual(expected);
    expect(stats).toMatchObject({ partitions: 3, parquetParts: 3, parquetRows: 2300, rawRows: 0 });
  });

  test('readers running concurrently with compactions never count a row twice or miss one', async () => {
    const p: HourPartition = { env: 'staging', date: '2026-11-25', hour: '20' };
    const rows = await writeRaw(p, 20, 50);
    const from = new Date('2026-11-25T20:00:00.000Z');
    const to = new Date('2026-11-25T21:00:00.000Z');
    const expected = expectedRows(rows, from, to).map((r) => r.request_id);
    let done = false;
    const compaction = compactPartition(p, opts({ beforeRawDelete: () => new Promise((r) => setTimeout(r, 20)) })).finally(
      () => (done = true),
    );
    let reads = 0;
    while (!done || reads < 2) {
      const ids = (await collect(readWindow('staging', from, to, { columns: ['request_id'] }))).map((r) => r.request_id);
      expect(ids).toEqual(expected);
      reads++;
    }
    await compaction;
    expect(reads).toBeGreaterThanOrEqual(2);
  });

  test('column projection: only the asked columns are returned, as typed arrays, in bounded batches', async () => {
    const columns = [FEATURE_NAMES[0], FEATURE_NAMES[49], 'probability'];
    const batches: LogBatch[] = [];
    for await (const b of readWindow('production', FROM, TO, { columns, batchRows: 300 })) batches.push(b);
    expect(batches.every((b) => b.rowCount > 0 && b.rowCount <= 300)).toBe(true);
    expect(batches.reduce((s, b) => s + b.rowCount, 0)).toBe(2300);
    for (const b of batches) {
      expect(Object.keys(b.features).sort()).toEqual([FEATURE_NAMES[0], FEATURE_NAMES[49]].sort());
      expect(b.features[FEATURE_NAMES[0]]).toBeInstanceOf(Float32Array);
      expect(b.probability).toBeInstanceOf(Float64Array);
      expect(b.features[FEATURE_NAMES[0]]!.length).toBe(b.rowCount);
      expect(b.time).toBeUndefined();
      expect(b.text).toEqual({});
    }
    const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
    const got = sum(batches.flatMap((b) => [...b.probability!]));
    expect(got).toBeCloseTo(sum(all.map((r) => r.probability)), 6);
    await expect(collect(readWindow('production', FROM, TO, { columns: ['no_such_column'] }))).rejects.toThrow(/unknown log column/);
  });

  test('window bounds are half-open and cut inside hours, for Parquet and raw rows alike', async () => {
    const raw: HourPartition = { env: 'production', date: '2026-11-26', hour: '07' };
    const rawRows = await writeRaw(raw, 2, 100); // stays raw
    const everything = [...all, ...rawRows];
    const from = new Date('2026-11-26T03:30:00.000Z');
    const to = new Date('2026-11-26T07:15:00.000Z');
    const options: WindowReadOptions = { columns: ['time', 'request_id', 'probability', FEATURE_NAMES[7]] };
    const got = await collect(readWindow('production', from, to, options));
    const expected = expectedRows(everything, from, to).map((r) => ({
      time: r.time,
      request_id: r.request_id,
      probability: r.probability,
      [FEATURE_NAMES[7]]: r[FEATURE_NAMES[7]],
    }));
    expect(got).toEqual(expected);
    expect(got.length).toBeGreaterThan(0);
    // Exactly at a row's time: included as `from`, excluded as `to`.
    const t = new Date(rawRows[10].time);
    const at = await collect(readPartition(raw, t, new Date(t.getTime() + 1), { columns: ['request_id'] }));
    expect(at).toEqual([{ request_id: rawRows[10].request_id }]);
    expect(await collect(readPartition(raw, new Date(t.getTime() - 1), t, { columns: ['request_id'] }))).toEqual([]);
  });

  test("window bounds do not move with the process's time zone (raw and Parquet)", () => {
    // DuckDB reads a TIMESTAMP cast to TIMESTAMPTZ in the zone of the process's TZ; the bounds must be UTC instants.
    // Rows at 12:10, 12:30 and 12:50 UTC, window [12:20, 12:40): exactly the 12:30 row, whatever TZ says.
    const dist = (...parts: string[]) => JSON.stringify(distPath(...parts));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tz-window-'));
    const script = `
      const fs = require('node:fs'), path = require('node:path');
      const pq = require(${dist('shared', 'logs', 'parquet.js')});
      const { toFlatRow } = require(${dist('shared', 'logs', 'logSchema.js')});
      const { syntheticRecords } = require(${dist('tools', 'bench', 'syntheticRecords.js')});
      const { serializeRow, rawBatchBody } = require(${dist('shared', 'logs', 'rawLogFormat.js')});
      const rows = [...syntheticRecords(3, { env: 'production', start: new Date('2024-03-10T12:10:00.000Z'), stepMs: 1200000, seed: 1, idPrefix: 'tz' })].map(toFlatRow);
      const raw = path.join(${JSON.stringify(dir)}, 'raw.csv'), parquet = path.join(${JSON.stringify(dir)}, 'part.parquet');
      fs.writeFileSync(raw, rawBatchBody(rows.map(serializeRow)));
      (async () => {
        await pq.writeParquetFromRawFiles([raw], parquet, { rowGroupRows: 100 });
        const window = { columns: ['time'], fromMs: Date.parse('2024-03-10T12:20:00Z'), toMs: Date.parse('2024-03-10T12:40:00Z'), batchRows: 10 };
        const times = async (batches) => { const out = []; for await (const b of batches) out.push(...Array.from(b.time, (t) => new Date(t).toISOString())); return out; };
        console.log(JSON.stringify({ raw: await times(pq.readRawBatches(raw, window)), parquet: await times(pq.readParquetBatches(parquet, window)) }));
        await pq.closeParquetEngine();
      })();`;
    try {
      for (const tz of ['UTC', 'Asia/Tokyo', 'America/New_York']) {
        const out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, TZ: tz }, encoding: 'utf8' });
        expect({ tz, ...JSON.parse(out) }).toEqual({ tz, raw: ['2024-03-10T12:30:00.000Z'], parquet: ['2024-03-10T12:30:00.000Z'] });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a corrupt raw blob is not counted before compaction, just as compaction quarantines it', async () => {
    const p: HourPartition = { env: 'staging', date: '2026-11-24', hour: '13' };
    const rows = await writeRaw(p, 3, 40);
    const corrupt = 'raw/env=staging/date=2026-11-24/hour=13/00000000T000000000Z-bad-00000001.csv';
    // A valid row, then one whose probability is not a number: the whole blob is corrupt, its valid row included.
    const good = serializeRow({ ...rows[0], request_id: 'corrupt-1' });
    const body = `${RAW_LOG_HEADER}\n${good}\n${good.replace(',"corrupt-1",', ',"corrupt-2",').replace(`,${rows[0].probability},`, ',high,')}\n`;
    await storage.container.getBlockBlobClient(corrupt).upload(body, Buffer.byteLength(body));
    const from = new Date('2026-11-24T13:00:00.000Z');
    const to = new Date('2026-11-24T14:00:00.000Z');
    const before = emptyWindowStats();
    const ids = async (stats = emptyWindowStats()) =>
      (await collect(readWindow('staging', from, to, { columns: ['request_id'], stats }))).map((r) => r.request_id);
    const expected = expectedRows(rows, from, to).map((r) => r.request_id);
    expect(await ids(before)).toEqual(expected);
    expect(before).toMatchObject({ rawBlobs: 3, corruptRawBlobs: 1, rawRows: 120 });
    const result = await compactPartition(p, opts());
    expect(result.quarantined.map((q) => q.blob)).toEqual([corrupt]);
    expect(await ids()).toEqual(expected);
  });

  test('listWindowPartitions names the hours of one environment that hold logs, raw or compacted', async () => {
    const parts = await listWindowPartitions('production', new Date('2026-11-26T00:00:00Z'), new Date('2026-11-27T00:00:00Z'));
    expect(parts.map((p) => p.hour)).toEqual(['03', '04', '05', '07']);
    expect(parts[0].start.toISOString()).toBe('2026-11-26T03:00:00.000Z');
    const staging = await listWindowPartitions('staging', new Date('2026-11-25T00:00:00Z'), new Date('2026-11-27T00:00:00Z'));
    expect(staging.map((p) => `${p.date}/${p.hour}`)).toEqual(['2026-11-25/20', '2026-11-26/04']);
    expect(await listWindowPartitions('staging', new Date('2026-11-24T13:30:00Z'), new Date('2026-11-24T14:00:00Z'))).toHaveLength(1);
  });
});
