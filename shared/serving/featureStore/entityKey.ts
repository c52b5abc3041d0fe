// Feast's entity key serialization, version 3 (feast/infra/key_encoding_utils.py `serialize_entity_key`), and the
// Redis key of an entity (feast/infra/online_stores/redis.py `_redis_key`: the serialized key followed directly by
// the project name). Version 3 is the default of current Feast; it prefixes the number of join keys and the byte
// length of every key, which versions 1 and 2 did not.

/** feast.types.ValueType enum values that can appear in an entity key. */
export const ValueType = {
  BYTES: 1,
  STRING: 2,
  INT32: 3,
  INT64: 4,
  UNIX_TIMESTAMP: 8,
} as const;

export type EntityValue =
  | { type: 'string'; value: string }
  | { type: 'bytes'; value: Uint8Array }
  | { type: 'int32'; value: number }
  | { type: 'int64'; value: bigint | number }
  | { type: 'unix_timestamp'; value: bigint | number };

/** join key name -> value, as Feast's EntityKey proto pairs them. */
export type EntityKey = Readonly<Record<string, EntityValue | string>>;

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

function valueBytes(v: EntityValue): [number, Buffer] {
  switch (v.type) {
    case 'string':
      return [ValueType.STRING, Buffer.from(v.value, 'utf8')];
    case 'bytes':
      return [ValueType.BYTES, Buffer.from(v.value)];
    case 'int32': {
      const b = Buffer.allocUnsafe(4);
      b.writeInt32LE(v.value);
      return [ValueType.INT32, b];
    }
    case 'int64':
    case 'unix_timestamp': {
      const b = Buffer.allocUnsafe(8);
      b.writeBigInt64LE(BigInt(v.value));
      return [v.type === 'int64' ? ValueType.INT64 : ValueType.UNIX_TIMESTAMP, b];
    }
  }
}

// Python's sorted() on str compares code points; JS's default sort compares UTF-16 units. They differ only for
// astral characters, which join key names never contain, but compare code points anyway to be exact.
function byCodePoint(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** `serialize_entity_key(entity_key, entity_key_serialization_version=3)`. */
export function serializeEntityKeyV3(key: EntityKey): Buffer {
  const names = Object.keys(key).sort(byCodePoint);
  if (names.length === 0) throw new Error('An entity key needs at least one join key');
  const parts: Buffer[] = [u32(names.length)];
  for (const name of names) {
    const bytes = Buffer.from(name, 'utf8');
    parts.push(u32(ValueType.STRING), u32(bytes.length), bytes);
  }
  for (const name of names) {
    const raw = key[name];
    const [type, bytes] = valueBytes(typeof raw === 'string' ? { type: 'string', value: raw } : raw);
    parts.push(u32(type), u32(bytes.length), bytes);
  }
  return Buffer.concat(parts);
}

/** The Redis key under which Feast stores an entity's features for `project`. */
export function feastRedisKey(project: string, key: EntityKey): Buffer {
  return Buffer.concat([serializeEntityKeyV3(key), Buffer.from(project, 'utf8')]);
}
