// Point-in-time sender statistics (what a training row reads) against the materialized store (what the gateway
// reads): the same window, the same bounds, the same rows. And the committed model's test-period sender values
// are exactly what `npm run features:materialize` writes to Redis.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { loadCorpus, timeForwardSplit } from '../../../training/corpus';
import { settingDefault } from '../../../shared/platform/config';
import { aggregateSenderStats, SenderEvent, SenderHistory } from '../../../shared/serving/featureStore/senderStats';
import { loadTrainingSenders, senderEvent, trainingPeriodEnd, trainingSenderStats } from '../../../training/trainingSenderStats';
import { FeatureStore } from '../../../shared/serving/featureStore/featureStore';
import { SENDER_WINDOW_DAYS, UNKNOWN_SENDER } from '../../../shared/serving/features/featureList';
import { parseEmail } from '../../../shared/serving/features/transformer';
import { normalizeSenderDomain, senderDomainHash } from '../../../shared/serving/predict/senderHash';
import { mulberry32 } from '../../../shared/platform/random';
import { dropFeastProject } from '../../helpers/feastProject';
import { distPath } from '../../helpers/paths';

jest.setTimeout(120_000);

const DAY = 86_400_000;
const T0 = Date.parse('2002-06-01T00:00:00Z');

describe('SenderHistory', () => {
  const random = mulberry32(7);
  const keys = ['a', 'b', 'c', 'd'];
  const events: SenderEvent[] = Array.from({ length: 400 }, () => ({
    senderKey: keys[Math.floor(random() * keys.length)],
    spam: random() < 0.4,
    // Whole hours over 90 days, so that window ends and starts land exactly on events too.
    time: new Date(T0 + Math.floor(random() * 90 * 24) * 3_600_000),
  }));
  const history = new SenderHistory(events);

  it('answers, at any moment, the row the materializer writes as of that moment (both ends of the window included)', () => {
    const moments = [
      ...events.slice(0, 40).map((e) => e.time!.getTime()),
      ...events.slice(40, 60).map((e) => e.time!.getTime() + SENDER_WINDOW_DAYS * DAY),
      T0 - DAY,
      T0 + 200 * DAY,
    ];
    let compared = 0;
    for (const t of moments) {
      const rows = new Map(aggregateSenderStats(events, new Date(t)).map((r) => [r.entity, r.features]));
      for (const key of keys) {
        expect({ key, t, features: history.at(key, new Date(t)) }).toEqual({ key, t, features: rows.get(key) ?? UNKNOWN_SENDER });
        // An independent count, so that the window's bounds are pinned here and not only by the code under test.
        const inWindow = events.filter(
          (e) => e.senderKey === key && e.time!.getTime() <= t && e.time!.getTime() >= t - SENDER_WINDOW_DAYS * DAY,
        );
        const naive = inWindow.length
          ? { message_count_30d: inWindow.length, spam_rate_30d: inWindow.filter((e) => e.spam).length / inWindow.length }
          : UNKNOWN_SENDER;
        expect({ key, t, features: history.at(key, new Date(t)) }).toEqual({ key, t, features: naive });
        compared++;
      }
    }
    expect(compared).toBe(moments.length * keys.length);
  });

  it("a materialized row expires exactly when the moving window stops holding the sender's mail", () => {
    let checked = 0;
    for (const t of events.slice(0, 40).map((e) => e.time!.getTime())) {
      for (const row of aggregateSenderStats(events, new Date(t))) {
        const end = row.expiresAt!.getTime();
        // Had no newer mail come, `at` keeps a row up to the expiry and none from it on.
        const upTo = events.filter((e) => e.time!.getTime() <= t);
        const frozen = new SenderHistory(upTo);
        expect(frozen.at(row.entity, new Date(end - 1))).not.toEqual(UNKNOWN_SENDER);
        expect(frozen.at(row.entity, new Date(end))).toEqual(UNKNOWN_SENDER);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
    // A fixed snapshot (the training period's store) does not expire.
    expect(history.rowsAt(new Date(T0 + 45 * DAY)).every((r) => r.expiresAt === undefined)).toBe(true);
  });

  it('an unknown sender, no sender, or a window without mail gives the unknown-sender defaults', () => {
    expect(history.at('zzz', new Date(T0 + 10 * DAY))).toEqual(UNKNOWN_SENDER);
    expect(history.at(undefined, new Date(T0 + 10 * DAY))).toEqual(UNKNOWN_SENDER);
    expect(history.at('a', new Date(T0 - 1))).toEqual(UNKNOWN_SENDER);
    expect(() => new SenderHistory([{ senderKey: 'a', spam: true }])).toThrow(/time of every event/);
  });
});

describe("the training period's sender statistics", () => {
  it('are, per sender, what the training pipeline gives the validation and test rows, and what features:materialize writes to Redis', async () => {
    const key = settingDefault('SENDER_HASH_KEY')!;
    const split = timeForwardSplit(loadCorpus());
    const period = [...split.fit, ...split.validation];

    // The training pipeline keys its history by the normalized domain (training/trainModel.ts); the store by its keyed hash.
    const domains = new Map<string, string>();
    const byDomain: SenderEvent[] = [];
    for (const m of period) {
      const e = senderEvent(m, await parseEmail({ raw: m.raw }), normalizeSenderDomain);
      if (e) {
        byDomain.push(e);
        domains.set(senderDomainHash(e.senderKey, key), e.senderKey);
      }
    }
    const history = new SenderHistory(byDomain);
    const senders = await loadTrainingSenders(key);
    const stores = { 'training-end': senders.storeAt('training-end'), 'fit-end': senders.storeAt('fit-end') };
    expect(stores['training-end']).toEqual(await trainingSenderStats(key));
    expect(stores['training-end'].asOf).toEqual(trainingPeriodEnd(period));
    expect(stores['fit-end'].asOf).toEqual(trainingPeriodEnd(split.fit));
    for (const stats of Object.values(stores)) {
      expect(stats.messages).toBe(period.length);
      expect(stats.rows.length).toBe(
        new Set(byDomain.map((e) => e.senderKey).filter((d) => history.at(d, stats.asOf) !== UNKNOWN_SENDER)).size,
      );
      for (const row of stats.rows) expect(history.at(domains.get(row.entity), stats.asOf)).toEqual(row.features);
      expect(stats.rows.length).toBeGreaterThan(100);
    }
    // The collectors' own (redacted) domain carries no statistics: its mail says how it was collected.
    expect([...domains.values()].some((d) => d.includes('taint.org'))).toBe(false);
    const stats = stores['training-end'];

    const project = `senders_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const store = new FeatureStore({ url: 'redis://127.0.0.1:6379', project, timeoutMs: 2000 });
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [distPath('tools', 'cli', 'materialize.js')], {
        env: { ...process.env, FEAST_PROJECT: project, REDIS_URL: 'redis://127.0.0.1:6379' },
      });
      expect(stdout).toContain(`${stats.rows.length} senders`);
      expect(stdout).toContain(`as of ${stats.asOf.toISOString()}`);
      const read = await store.getSenderFeatures(stats.rows.map((r) => r.entity));
      expect(read.found.every(Boolean)).toBe(true);
      expect(read.features).toEqual(stats.rows.map((r) => r.features));
      // Deleting a sender's values leaves it unknown to the reader.
      expect(await store.deleteSenderFeatures([stats.rows[0].entity, 'no-such-sender'])).toBe(1);
      expect((await store.getSenderFeatures([stats.rows[0].entity, stats.rows[1].entity])).found).toEqual([false, true]);
    } finally {
      await dropFeastProject(project);
      await store.close();
    }
  });
});
