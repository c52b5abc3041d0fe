// The Feast online store, read and written directly in Redis with Feast's own layout (the other modules of this folder), so a real
// Feast deployment (aks/feast/) and this gateway share one store. The entity of the sender feature view is the
// keyed hash of the sender domain (shared/serving/predict/senderHash.ts): addresses never reach Redis or the logs.
//
// Reads are best effort by design: Redis down, slow or returning garbage gives the unknown-sender defaults and
// `degraded: true`, never a failed prediction.
import { DefaultAzureCredential, TokenCredential } from '@azure/identity';
import Redis from 'ioredis';
import { getConfig } from '../../platform/config';
import { entraRedisCredentials, usesEntraAuth } from './redisAuth';
import { feastRedisKey } from './entityKey';
import { featureField, timestampField } from './hashFields';
import { decodeTimestamp, decodeValue, encodeTimestamp, encodeValue, FeastValue, numericValue } from './valueProto';
import { SENDER_FEAST_FEATURES, SENDER_FEATURE_VIEW, SenderFeatures, UNKNOWN_SENDER } from '../features/featureList';
import type { CheckResult, HealthCheck } from '../../platform/health';
import { errorMessage } from '../../platform/errors';

/** Join key of the `sender` entity (aks/feast/features.py): the keyed hash of the sender domain, hex. */
export const SENDER_JOIN_KEY = 'sender_domain_hash';

/** Feast value types the sender features are stored with (aks/feast/features.py schema). */
const SENDER_FEATURE_KINDS: Record<(typeof SENDER_FEAST_FEATURES)[number], 'int64' | 'double'> = {
  message_count_30d: 'int64',
  spam_rate_30d: 'double',
};

export interface SenderLookup {
  /** One entry per requested entity, in order: the stored features or the unknown-sender defaults. */
  readonly features: SenderFeatures[];
  /** Whether each entity had a row in the store. */
  readonly found: boolean[];
  /** True when the store could not be read (down, slow, malformed); every entry is then the defaults. */
  readonly degraded: boolean;
  readonly reason?: string;
}

export interface SenderFeatureRow {
  /** Value of the join key (the sender domain hash). */
  readonly entity: string;
  readonly features: SenderFeatures;
  readonly eventTime: Date;
  /**
   * When the window stops holding any of this sender's mail (its newest event + the window): from then on the sender
   * is unknown, as training's point-in-time statistics have it. Written as the key's expiry; without it the row stays
   * until overwritten.
   */
  readonly expiresAt?: Date;
}

function senderKey(project: string, entity: string): Buffer {
  return feastRedisKey(project, { [SENDER_JOIN_KEY]: entity });
}

const senderFields: Buffer[] = [
  ...SENDER_FEAST_FEATURES.map((f) => featureField(SENDER_FEATURE_VIEW, f)),
  timestampField(SENDER_FEATURE_VIEW),
];

/** Decode one HMGET answer (features..., _ts) into sender features; undefined when the entity has no row. */
export function decodeSenderRow(values: (Buffer | null)[]): SenderFeatures | undefined {
  const features = SENDER_FEAST_FEATURES.map((_, i) => numericValue(decodeValue(values[i])));
  if (features.every((v) => v === undefined)) return undefined;
  const out: Record<string, number> = { ...UNKNOWN_SENDER };
  SENDER_FEAST_FEATURES.forEach((name, i) => {
    if (features[i] !== undefined) out[name] = features[i];
  });
  return out as unknown as SenderFeatures;
}

export interface FeatureStoreOptions {
  url: string;
  project: string;
  timeoutMs: number;
  /** For Azure Redis with Entra auth (a TLS URL without password); DefaultAzureCredential when not given. */
  credential?: TokenCredential;
}

export class FeatureStore {
  readonly project: string;
  private readonly timeoutMs: number;
  private readonly redis: Redis;
  private lastError: string | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** Settles when the first connection attempt has started (after fetching an Entra token, when one is needed). */
  private readonly started: Promise<void>;
  /** Settles at the next 'ready' while someone waits for a connection. */
  private connected: Promise<void> | undefined;

  constructor(options: FeatureStoreOptions) {
    this.project = options.project;
    this.timeoutMs = options.timeoutMs;
    this.redis = new Redis(options.url, {
      // Commands never queue behind a dead connection: a read either goes out now or falls back to defaults.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(1000, options.timeoutMs),
      retryStrategy: (times) => Math.min(100 * times, 2000),
      lazyConnect: true,
      // close() ends the socket and gives Redis this long to close its side before destroying it. ioredis arms the
      // timer even when the socket has closed already (Redis down, reconnecting) and only the socket's 'close'
      // clears it, so with its default of 2 s every store closed while Redis was down held the process for 2 s.
      disconnectTimeout: 100,
    });
    this.redis.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    this.redis.on('ready', () => {
      this.lastError = undefined;
    });
    this.started = usesEntraAuth(options.url)
      ? this.authenticate(options.credential ?? new DefaultAzureCredential()).then(
          () => void this.redis.connect().catch(() => undefined),
          (err: unknown) => {
            this.lastError = `Entra token for Redis: ${errorMessage(err)}`;
          },
        )
      : Promise.resolve(void this.redis.connect().catch(() => undefined));
  }

  /** Fetch a token, use it for (re)connections, and AUTH again on the live connection before it expires. */
  private async authenticate(credential: TokenCredential): Promise<void> {
    const creds = await entraRedisCredentials(credential);
    this.redis.options.username = creds.username;
    this.redis.options.password = creds.password;
    if (this.redis.status === 'ready') await this.redis.call('AUTH', creds.username, creds.password);
    const refreshIn = Math.max(60_000, creds.expiresOn - Date.now() - 5 * 60_000);
    this.refreshTimer = setTimeout(() => {
      this.authenticate(credential).catch((err: unknown) => {
        this.lastError = `Entra token refresh for Redis: ${errorMessage(err)}`;
        this.refreshTimer = setTimeout(() => void this.authenticate(credential).catch(() => undefined), 30_000);
        this.refreshTimer.unref();
      });
    }, refreshIn);
    this.refreshTimer.unref();
  }

  get status(): string {
    return this.redis.status;
  }

  /** Wait for the first connection within the budget; a store already known to be down fails at once. */
  private async ready(deadline: number): Promise<void> {
    if (this.redis.status === 'wait') {
      // The budget's timer is cleared once the first connection attempt settles: left running, every request made
      // before the first connection kept a timer (and the process) alive until its deadline.
      let budget: NodeJS.Timeout | undefined;
      try {
        await Promise.race([this.started, new Promise((r) => (budget = setTimeout(r, Math.max(0, deadline - Date.now()))))]);
      } finally {
        clearTimeout(budget);
      }
    }
    const status = this.redis.status;
    if (status === 'ready') return;
    if (status !== 'connecting' && status !== 'connect') {
      throw new Error(`Redis is ${status}${this.lastError ? ` (${this.lastError})` : ''}`);
    }
    // One 'ready' listener for all the requests waiting on a connection, however many: a listener per request
    // piled up (MaxListenersExceededWarning) while Redis accepted connections and never answered.
    this.connected ??= new Promise<void>((resolve) => this.redis.once('ready', resolve)).finally(() => {
      this.connected = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    const waited = Math.max(0, deadline - Date.now());
    try {
      await Promise.race([
        this.connected,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Redis not connected within ${waited} ms`)), waited);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sender features of `entities`: one HMGET per entity, all in one pipeline, within the timeout. */
  async getSenderFeatures(entities: readonly string[]): Promise<SenderLookup> {
    const deadline = Date.now() + this.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.ready(deadline);
      const pipeline = this.redis.pipeline();
      for (const e of entities) pipeline.hmgetBuffer(senderKey(this.project, e), ...senderFields);
      const timeout = new Promise<never>((_, reject) => {
        // Timers run before I/O callbacks in a loop turn: under CPU load an answer already in the socket would lose
        // to the timer. setImmediate lets that poll phase run first, so only a truly late Redis times out.
        timer = setTimeout(
          () => setImmediate(() => reject(new Error(`Redis did not answer within ${this.timeoutMs} ms`))),
          Math.max(0, deadline - Date.now()),
        );
      });
      const results = await Promise.race([pipeline.exec(), timeout]);
      if (!results) throw new Error('Redis pipeline was discarded');
      const features: SenderFeatures[] = [];
      const found: boolean[] = [];
      const corrupt: string[] = [];
      for (const [i, [err, values]] of results.entries()) {
        if (err) throw err;
        // One unreadable row (written by something else, half-migrated) costs that sender its statistics, not the
        // whole request its other senders'.
        let row: SenderFeatures | undefined;
        try {
          row = decodeSenderRow(values as (Buffer | null)[]);
        } catch (e) {
          corrupt.push(`${entities[i]}: ${errorMessage(e)}`);
        }
        features.push(row ?? UNKNOWN_SENDER);
        found.push(row !== undefined);
      }
      if (corrupt.length)
        return { features, found, degraded: true, reason: `unreadable ${SENDER_FEATURE_VIEW} rows (defaults used): ${corrupt.join('; ')}` };
      return { features, found, degraded: false };
    } catch (err) {
      const reason = errorMessage(err);
      return { features: entities.map(() => UNKNOWN_SENDER), found: entities.map(() => false), degraded: true, reason };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Write rows as Feast's `online_write_batch` does: event times in whole seconds, a row skipped when its second is
   * not after the stored one, otherwise HSET the features and `_ts:<view>`. The key expires after `ttlSeconds` when
   * given (Feast's `key_ttl_seconds`), else at the row's `expiresAt` when it has one. Returns how many rows were
   * written.
   */
  async writeSenderFeatures(rows: readonly SenderFeatureRow[], options: { ttlSeconds?: number } = {}): Promise<number> {
    const { ttlSeconds } = options;
    if (ttlSeconds !== undefined && !(Number.isInteger(ttlSeconds) && ttlSeconds > 0)) {
      throw new RangeError(`ttlSeconds must be a positive integer, got ${ttlSeconds}`);
    }
    await this.ready(Date.now() + Math.max(this.timeoutMs, 5000));
    const keys = rows.map((r) => senderKey(this.project, r.entity));
    const tsField = timestampField(SENDER_FEATURE_VIEW);
    const check = this.redis.pipeline();
    for (const key of keys) check.hmgetBuffer(key, tsField);
    const stored = (await check.exec()) ?? [];
    const write = this.redis.pipeline();
    let written = 0;
    rows.forEach((row, i) => {
      const [err, value] = stored[i] ?? [null, null];
      if (err) throw err;
      const previous = decodeTimestamp((value as (Buffer | null)[])[0]);
      const eventSeconds = Math.floor(row.eventTime.getTime() / 1000);
      const previousSeconds = previous ? Math.floor(previous.getTime() / 1000) : 0;
      if (previousSeconds !== 0 && eventSeconds <= previousSeconds) return;
      const fields: Buffer[] = [];
      for (const name of SENDER_FEAST_FEATURES) {
        const v: FeastValue = { kind: SENDER_FEATURE_KINDS[name], value: row.features[name] };
        fields.push(featureField(SENDER_FEATURE_VIEW, name), encodeValue(v));
      }
      fields.push(tsField, encodeTimestamp(new Date(eventSeconds * 1000)));
      write.hset(keys[i], ...fields);
      if (ttlSeconds !== undefined) write.expire(keys[i], ttlSeconds);
      else if (row.expiresAt) write.pexpireat(keys[i], row.expiresAt.getTime());
      else write.persist(keys[i]); // a row without an end replaces one that had an expiry
      written++;
    });
    for (const [err] of (await write.exec()) ?? []) if (err) throw err;
    return written;
  }

  /**
   * Remove the `sender_stats` values of these entities (their view's fields, as Feast keeps other views' fields of
   * the same entity in the same hash). Returns how many entities had any.
   */
  async deleteSenderFeatures(entities: readonly string[]): Promise<number> {
    await this.ready(Date.now() + Math.max(this.timeoutMs, 5000));
    const fields = [...SENDER_FEAST_FEATURES.map((name) => featureField(SENDER_FEATURE_VIEW, name)), timestampField(SENDER_FEATURE_VIEW)];
    const del = this.redis.pipeline();
    for (const entity of entities) del.hdel(senderKey(this.project, entity), ...fields);
    let removed = 0;
    for (const [err, n] of (await del.exec()) ?? []) {
      if (err) throw err;
      if ((n as number) > 0) removed++;
    }
    return removed;
  }

  /** The raw Redis key of an entity (tests, tools). */
  redisKey(entity: string): Buffer {
    return senderKey(this.project, entity);
  }

  /** `connectWaitMs`: how long a first connection may take (a start-up check can wait longer than a request). */
  async ping(connectWaitMs = this.timeoutMs): Promise<CheckResult> {
    try {
      await this.ready(Date.now() + connectWaitMs);
      const started = performance.now();
      await this.redis.ping();
      return { status: 'ok', info: { project: this.project, ping_ms: Math.round((performance.now() - started) * 100) / 100 } };
    } catch (err) {
      return {
        status: 'degraded',
        detail: `${errorMessage(err)}; sender features use their defaults`,
        info: { project: this.project },
      };
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.refreshTimer);
    this.redis.disconnect();
  }
}

let store: FeatureStore | undefined;

/** The app's feature store, built on first use from configuration. */
export function getFeatureStore(): FeatureStore {
  if (!store) {
    const config = getConfig();
    store = new FeatureStore({ url: config.redisUrl, project: config.feastProject, timeoutMs: config.feastTimeoutMs });
  }
  return store;
}

export async function resetFeatureStore(): Promise<void> {
  const s = store;
  store = undefined;
  await s?.close();
}

/** Redis is optional: down means degraded predictions, not an app that cannot serve. */
export const redisHealthCheck: HealthCheck = {
  required: false,
  run: () => getFeatureStore().ping(),
};
