// Feast's Redis layout, checked against Feast's own vectors (feast-dev/feast
// tests/unit/infra/online_store/test_redis.py), then written and read through the real Redis on 127.0.0.1:6379.
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { feastRedisKey, serializeEntityKeyV3 } from '../../../../shared/serving/featureStore/entityKey';
import { featureField, timestampField } from '../../../../shared/serving/featureStore/hashFields';
import { murmur3x86_32 } from '../../../../shared/serving/featureStore/murmur3';
import { decodeTimestamp, decodeValue, encodeTimestamp, encodeValue } from '../../../../shared/serving/featureStore/valueProto';
import { tokenObjectId, usesEntraAuth } from '../../../../shared/serving/featureStore/redisAuth';
import { FeatureStore, SENDER_JOIN_KEY } from '../../../../shared/serving/featureStore/featureStore';
import { SENDER_FEATURE_VIEW, UNKNOWN_SENDER } from '../../../../shared/serving/features/featureList';
import { dropFeastProject } from '../../../helpers/feastProject';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('Feast key encoding (entity key serialization v3)', () => {
  it("matches Feast's test_redis.py vector: join key 'entity' = int32 1, project 'test'", () => {
    const expected = Buffer.concat([
      hex('01000000 02000000 06000000'),
      Buffer.from('entity'),
      hex('03000000 04000000 01000000'),
      Buffer.from('test'),
    ]);
    expect(feastRedisKey('test', { entity: { type: 'int32', value: 1 } })).toEqual(expected);
  });

  it("matches the computed vector for sender_domain = 'example.com', project 'spam_gateway'", () => {
    const expected = hex(
      '01000000 02000000 0d000000 73656e6465725f646f6d61696e 02000000 0b000000 6578616d706c652e636f6d 7370616d5f67617465776179',
    );
    expect(feastRedisKey('spam_gateway', { sender_domain: 'example.com' })).toEqual(expected);
  });

  it('sorts join keys by name and writes all names before all values, as Feast does', () => {
    const key = serializeEntityKeyV3({ zeta: 'z', alpha: { type: 'int64', value: 7n } });
    const expected = Buffer.concat([
      hex('02000000'),
      hex('02000000 05000000'),
      Buffer.from('alpha'),
      hex('02000000 04000000'),
      Buffer.from('zeta'),
      hex('04000000 08000000 0700000000000000'),
      hex('02000000 01000000'),
      Buffer.from('z'),
    ]);
    expect(key).toEqual(expected);
  });
});

describe('Feast hash fields (murmur3 x86 32-bit, seed 0)', () => {
  it("gives Feast's vector: feature_view_1:feature_10 -> '&m_9'", () => {
    expect(featureField('feature_view_1', 'feature_10').toString('latin1')).toBe('&m_9');
  });

  it('gives sender_stats:spam_rate -> a9 21 28 75', () => {
    expect(featureField('sender_stats', 'spam_rate')).toEqual(hex('a9212875'));
  });

  it('matches the published MurmurHash3 x86_32 test values', () => {
    expect(murmur3x86_32('')).toBe(0);
    expect(murmur3x86_32('', 1)).toBe(0x514e28b7);
    expect(murmur3x86_32('', 0xffffffff)).toBe(0x81f16f39);
    expect(murmur3x86_32(Buffer.from([0, 0, 0, 0]))).toBe(0x2362f9de);
    expect(murmur3x86_32('aaaa', 0x9747b28c)).toBe(0x5a97808a);
    expect(murmur3x86_32('abc', 0x9747b28c)).toBe(0xc84a62dd);
    expect(murmur3x86_32('Hello, world!', 0x9747b28c)).toBe(0x24884cba);
  });

  it('names the timestamp field _ts:<feature_view>', () => {
    expect(timestampField('sender_stats').toString()).toBe('_ts:sender_stats');
  });
});

describe('feast.types.Value and google.protobuf.Timestamp', () => {
  it('encodes values as protobuf SerializeToString does', () => {
    expect(encodeValue({ kind: 'double', value: 0.5 })).toEqual(hex('29 000000000000e03f'));
    expect(encodeValue({ kind: 'int64', value: 150 })).toEqual(hex('20 9601'));
    expect(encodeValue({ kind: 'int64', value: -1 })).toEqual(hex('20 ffffffffffffffffff01'));
    expect(encodeValue({ kind: 'float', value: 0.25 })).toEqual(hex('35 0000803e'));
    expect(encodeValue({ kind: 'string', value: 'ab' })).toEqual(hex('12 02 6162'));
    expect(encodeValue({ kind: 'bool', value: true })).toEqual(hex('38 01'));
    // A oneof member is written even at its default value: 0.0 is present, not missing.
    expect(encodeValue({ kind: 'double', value: 0 })).toEqual(hex('29 0000000000000000'));
    expect(encodeValue({ kind: 'null' })).toEqual(hex('98 01 00'));
  });

  it('decodes what it encodes and treats nil/empty as missing', () => {
    for (const v of [
      { kind: 'double', value: 0.125 },
      { kind: 'int64', value: 12345678901 },
      { kind: 'int32', value: -5 },
      { kind: 'string', value: 'x' },
      { kind: 'bool', value: false },
    ] as const) {
      expect(decodeValue(encodeValue(v))).toEqual(v);
    }
    expect(decodeValue(null)).toBeUndefined();
    expect(decodeValue(Buffer.alloc(0))).toBeUndefined();
  });

  it('encodes Timestamp as fields 1 (seconds) and 2 (nanos)', () => {
    const t = new Date(1700000000 * 1000 + 500);
    expect(encodeTimestamp(t)).toEqual(hex('0880e2cfaa06 1080cab5ee01'));
    expect(decodeTimestamp(encodeTimestamp(t))).toEqual(t);
  });
});

describe('FeatureStore on the real Redis', () => {
  const project = `test_${randomUUID().replace(/-/g, '')}`;
  let store: FeatureStore;
  let raw: Redis;

  beforeAll(() => {
    store = new FeatureStore({ url: 'redis://127.0.0.1:6379', project, timeoutMs: 1000 });
    raw = new Redis('redis://127.0.0.1:6379');
  });

  afterAll(async () => {
    await dropFeastProject(project);
    await store.close();
    raw.disconnect();
  });

  it("writes Feast's layout: key, hashed fields, Value protos and _ts", async () => {
    const eventTime = new Date('2026-11-20T10:00:00.250Z');
    await store.writeSenderFeatures([{ entity: 'abc123', features: { message_count_30d: 42, spam_rate_30d: 0.75 }, eventTime }]);
    const key = feastRedisKey(project, { [SENDER_JOIN_KEY]: 'abc123' });
    const hash = await raw.hgetallBuffer(key);
    const byField = new Map(Object.entries(hash).map(([k, v]) => [Buffer.from(k, 'latin1').toString('hex'), v]));
    // ioredis returns field names as strings; compare their bytes.
    const fields = await raw.hkeysBuffer(key);
    expect(fields.map((f) => f.toString('hex')).sort()).toEqual(
      [
        featureField(SENDER_FEATURE_VIEW, 'message_count_30d'),
        featureField(SENDER_FEATURE_VIEW, 'spam_rate_30d'),
        timestampField(SENDER_FEATURE_VIEW),
      ]
        .map((f) => f.toString('hex'))
        .sort(),
    );
    expect(byField.size).toBe(3);
    const [count, rate, ts] = await raw.hmgetBuffer(
      key,
      featureField(SENDER_FEATURE_VIEW, 'message_count_30d'),
      featureField(SENDER_FEATURE_VIEW, 'spam_rate_30d'),
      timestampField(SENDER_FEATURE_VIEW),
    );
    expect(count).toEqual(hex('20 2a'));
    expect(rate).toEqual(hex('29 000000000000e83f'));
    // Feast stores whole seconds (online_write_batch: `ts.seconds = int(timestamp)`); the key has no expiry.
    expect(ts).toEqual(hex('08 a0b480d806')); // field 1 (seconds) = 1795168800, no field 2 (nanos)
    expect(decodeTimestamp(ts)).toEqual(new Date('2026-11-20T10:00:00.000Z'));
    expect(await raw.pttl(key)).toBe(-1);
  });

  it('reads features back in one pipeline and gives defaults for unknown senders without degrading', async () => {
    await store.writeSenderFeatures([
      { entity: 'known-1', features: { message_count_30d: 3, spam_rate_30d: 1 / 3 }, eventTime: new Date() },
      { entity: 'known-2', features: { message_count_30d: 0, spam_rate_30d: 0 }, eventTime: new Date() },
    ]);
    const r = await store.getSenderFeatures(['known-1', 'nobody', 'known-2']);
    expect(r.degraded).toBe(false);
    expect(r.found).toEqual([true, false, true]);
    expect(r.features).toEqual([
      { message_count_30d: 3, spam_rate_30d: 1 / 3 },
      UNKNOWN_SENDER,
      { message_count_30d: 0, spam_rate_30d: 0 },
    ]);
  });

  it('an unreadable row costs only its own sender the statistics; the other senders keep theirs', async () => {
    await store.writeSenderFeatures([
      { entity: 'good-row', features: { message_count_30d: 99, spam_rate_30d: 0.25 }, eventTime: new Date() },
    ]);
    // Written by something else: not a feast.types.Value.
    await raw.hset(
      feastRedisKey(project, { [SENDER_JOIN_KEY]: 'bad-row' }),
      featureField(SENDER_FEATURE_VIEW, 'message_count_30d'),
      Buffer.from('ff ff ff ff', 'hex'),
    );
    const r = await store.getSenderFeatures(['good-row', 'bad-row']);
    expect(r.features).toEqual([{ message_count_30d: 99, spam_rate_30d: 0.25 }, UNKNOWN_SENDER]);
    expect(r.found).toEqual([true, false]);
    expect(r.degraded).toBe(true);
    expect(r.reason).toMatch(/unreadable sender_stats rows.*bad-row/);
  });

  it('keeps a newer stored row when an older one is written (Feast write semantics)', async () => {
    await store.writeSenderFeatures([
      { entity: 'ordered', features: { message_count_30d: 10, spam_rate_30d: 0.1 }, eventTime: new Date('2026-11-02') },
    ]);
    const written = await store.writeSenderFeatures([
      { entity: 'ordered', features: { message_count_30d: 1, spam_rate_30d: 0.9 }, eventTime: new Date('2026-11-01') },
    ]);
    expect(written).toBe(0);
    expect((await store.getSenderFeatures(['ordered'])).features[0]).toEqual({ message_count_30d: 10, spam_rate_30d: 0.1 });
  });

  it('skips a row of the same second as the stored one, as Feast does (event time not after the stored one)', async () => {
    await store.writeSenderFeatures([
      { entity: 'same-second', features: { message_count_30d: 5, spam_rate_30d: 0.2 }, eventTime: new Date('2026-11-03T08:00:00.100Z') },
    ]);
    const later = { entity: 'same-second', features: { message_count_30d: 6, spam_rate_30d: 0.5 } };
    expect(await store.writeSenderFeatures([{ ...later, eventTime: new Date('2026-11-03T08:00:00.900Z') }])).toBe(0);
    expect((await store.getSenderFeatures(['same-second'])).features[0]).toEqual({ message_count_30d: 5, spam_rate_30d: 0.2 });
    expect(await store.writeSenderFeatures([{ ...later, eventTime: new Date('2026-11-03T08:00:01.000Z') }])).toBe(1);
    expect((await store.getSenderFeatures(['same-second'])).features[0]).toEqual(later.features);
  });

  it("a row's end of window becomes its key's expiry; a sender whose window has passed reads as unknown", async () => {
    const now = Date.now();
    await store.writeSenderFeatures([
      {
        entity: 'current',
        features: { message_count_30d: 2, spam_rate_30d: 0.5 },
        eventTime: new Date(now),
        expiresAt: new Date(now + 3_600_000),
      },
      { entity: 'gone', features: { message_count_30d: 9, spam_rate_30d: 1 }, eventTime: new Date(now), expiresAt: new Date(now - 1000) },
    ]);
    const ttl = await raw.pttl(feastRedisKey(project, { [SENDER_JOIN_KEY]: 'current' }));
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
    expect((await store.getSenderFeatures(['current', 'gone'])).found).toEqual([true, false]);
    // An explicit TTL (Feast's key_ttl_seconds) wins; a bad one is refused before anything is written.
    await store.writeSenderFeatures(
      [
        {
          entity: 'current',
          features: { message_count_30d: 3, spam_rate_30d: 0.5 },
          eventTime: new Date(now + 2000),
          expiresAt: new Date(now + 3_600_000),
        },
      ],
      { ttlSeconds: 60 },
    );
    expect(await raw.ttl(feastRedisKey(project, { [SENDER_JOIN_KEY]: 'current' }))).toBeLessThanOrEqual(60);
    for (const ttlSeconds of [0, -5, 1.5, Number.NaN]) {
      await expect(
        store.writeSenderFeatures([{ entity: 'never', features: UNKNOWN_SENDER, eventTime: new Date() }], { ttlSeconds }),
      ).rejects.toThrow(/positive integer/);
    }
    expect((await store.getSenderFeatures(['never'])).found).toEqual([false]);
  });
});

describe('FeatureStore when Redis is unavailable', () => {
  it('answers with defaults and degraded when nothing listens on the port', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const store = new FeatureStore({ url: `redis://127.0.0.1:${port}`, project: 'p', timeoutMs: 200 });
    try {
      const r = await store.getSenderFeatures(['a', 'b']);
      expect(r.degraded).toBe(true);
      expect(r.features).toEqual([UNKNOWN_SENDER, UNKNOWN_SENDER]);
      expect(r.reason).toBeTruthy();
      expect((await store.ping()).status).toBe('degraded');
    } finally {
      await store.close();
    }
  });

  it('times out a Redis that accepts connections but never answers', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    const store = new FeatureStore({ url: `redis://127.0.0.1:${port}`, project: 'p', timeoutMs: 150 });
    try {
      const started = Date.now();
      const r = await store.getSenderFeatures(['a']);
      expect(r.degraded).toBe(true);
      expect(r.features).toEqual([UNKNOWN_SENDER]);
      expect(Date.now() - started).toBeLessThan(5000);
      // Many requests waiting on the same dead connection share one 'ready' listener: one each piled up past
      // Node's limit of 10 (MaxListenersExceededWarning, and a leak while Redis stays silent).
      const connection = (store as unknown as { redis: NodeJS.EventEmitter }).redis;
      const before = connection.listenerCount('ready');
      const waiting = Array.from({ length: 40 }, () => store.getSenderFeatures(['a']));
      expect(connection.listenerCount('ready')).toBeLessThanOrEqual(before + 1);
      expect((await Promise.all(waiting)).every((x) => x.degraded)).toBe(true);
    } finally {
      await store.close();
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });
});

describe('Azure Managed Redis with Entra authentication', () => {
  it('applies to TLS URLs without a password on Azure Redis hosts only', () => {
    expect(usesEntraAuth('rediss://spam-abc.westeurope.redis.azure.net:10000')).toBe(true);
    expect(usesEntraAuth('rediss://old.redis.cache.windows.net:6380')).toBe(true);
    expect(usesEntraAuth('rediss://:key@spam-abc.westeurope.redis.azure.net:10000')).toBe(false);
    expect(usesEntraAuth('redis://spam-abc.westeurope.redis.azure.net:10000')).toBe(false);
    expect(usesEntraAuth('redis://127.0.0.1:6379')).toBe(false);
  });

  it("takes the user name from the token's oid claim", () => {
    const jwt = ['{"alg":"none"}', '{"oid":"11111111-2222-3333-4444-555555555555","aud":"https://redis.azure.com"}']
      .map((p) => Buffer.from(p).toString('base64url'))
      .join('.');
    expect(tokenObjectId(`${jwt}.sig`)).toBe('11111111-2222-3333-4444-555555555555');
    expect(() => tokenObjectId('not-a-jwt')).toThrow(/not a JWT/);
  });

  it('without a token the store is degraded with a reason, and reads fall back to defaults', async () => {
    const noToken = {
      getToken: () => Promise.reject(new Error('no managed identity here')),
    };
    const store = new FeatureStore({ url: 'rediss://nowhere.redis.azure.net:10000', project: 'p', timeoutMs: 100, credential: noToken });
    try {
      const r = await store.getSenderFeatures(['a']);
      expect(r.degraded).toBe(true);
      expect(r.features).toEqual([UNKNOWN_SENDER]);
      expect(r.reason).toMatch(/Entra token for Redis: no managed identity here/);
    } finally {
      await store.close();
    }
  });
});
