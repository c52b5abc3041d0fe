// The protobuf messages Feast stores in Redis: `feast.types.Value` (protos/feast/types/Value.proto) for every
// feature value and `google.protobuf.Timestamp` for the `_ts:<feature_view>` field. The schema is declared here
// (the scalar members of Value's oneof and Null) and encoded by protobufjs, so the bytes are what Python's
// `SerializeToString()` writes.
import protobuf from 'protobufjs/light';

const root = protobuf.Root.fromJSON({
  nested: {
    feast: {
      nested: {
        types: {
          nested: {
            Null: { values: { NULL: 0 } },
            Value: {
              oneofs: {
                val: {
                  oneof: [
                    'bytes_val',
                    'string_val',
                    'int32_val',
                    'int64_val',
                    'double_val',
                    'float_val',
                    'bool_val',
                    'unix_timestamp_val',
                    'null_val',
                  ],
                },
              },
              fields: {
                bytes_val: { type: 'bytes', id: 1 },
                string_val: { type: 'string', id: 2 },
                int32_val: { type: 'int32', id: 3 },
                int64_val: { type: 'int64', id: 4 },
                double_val: { type: 'double', id: 5 },
                float_val: { type: 'float', id: 6 },
                bool_val: { type: 'bool', id: 7 },
                unix_timestamp_val: { type: 'int64', id: 8 },
                null_val: { type: 'Null', id: 19 },
              },
            },
          },
        },
      },
    },
    google: {
      nested: {
        protobuf: {
          nested: {
            Timestamp: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
          },
        },
      },
    },
  },
});

const ValueMessage = root.lookupType('feast.types.Value');
const TimestampMessage = root.lookupType('google.protobuf.Timestamp');

/** A scalar feast.types.Value. Lists (fields 11-18) are not used by this project's feature views. */
export type FeastValue =
  | { kind: 'bytes'; value: Uint8Array }
  | { kind: 'string'; value: string }
  | { kind: 'int32'; value: number }
  | { kind: 'int64'; value: number }
  | { kind: 'double'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'unix_timestamp'; value: number }
  | { kind: 'null' };

export function encodeValue(v: FeastValue): Buffer {
  const message = v.kind === 'null' ? { null_val: 0 } : { [`${v.kind}_val`]: v.value };
  return Buffer.from(ValueMessage.encode(ValueMessage.fromObject(message)).finish());
}

/** Decode a stored value; undefined for what Feast reads as missing (nil or empty from Redis, or an unset oneof). */
export function decodeValue(bytes: Uint8Array | null | undefined): FeastValue | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  const m = ValueMessage.toObject(ValueMessage.decode(bytes), { longs: Number, bytes: Buffer, oneofs: true }) as Record<string, unknown> & {
    val?: string;
  };
  switch (m.val) {
    case 'bytes_val':
      return { kind: 'bytes', value: m.bytes_val as Buffer };
    case 'string_val':
      return { kind: 'string', value: m.string_val as string };
    case 'int32_val':
    case 'int64_val':
    case 'double_val':
    case 'float_val':
    case 'unix_timestamp_val':
      return { kind: m.val.slice(0, -4) as 'int32', value: m[m.val] as number };
    case 'bool_val':
      return { kind: 'bool', value: m.bool_val as boolean };
    case 'null_val':
      return { kind: 'null' };
    default:
      return undefined;
  }
}

/** The numeric content of a value, for float features; undefined when it is missing, null or not a number. */
export function numericValue(v: FeastValue | undefined): number | undefined {
  if (!v) return undefined;
  switch (v.kind) {
    case 'int32':
    case 'int64':
    case 'double':
    case 'float':
      return v.value;
    case 'bool':
      return v.value ? 1 : 0;
    default:
      return undefined;
  }
}

export function encodeTimestamp(time: Date): Buffer {
  const ms = time.getTime();
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1_000_000;
  return Buffer.from(TimestampMessage.encode(TimestampMessage.fromObject({ seconds, nanos })).finish());
}

export function decodeTimestamp(bytes: Uint8Array | null | undefined): Date | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  const t = TimestampMessage.toObject(TimestampMessage.decode(bytes), { longs: Number }) as { seconds?: number; nanos?: number };
  return new Date((t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1_000_000));
}
