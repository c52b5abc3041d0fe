// Field names inside an entity's Redis hash (feast/infra/online_stores/redis.py): every feature is stored under
// the murmur3 hash of "<feature_view>:<feature>" as 4 little-endian bytes; the feature view's event timestamp
// under the plain string "_ts:<feature_view>".
import { murmur3x86_32 } from './murmur3';

export function featureField(featureView: string, feature: string): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(murmur3x86_32(`${featureView}:${feature}`));
  return b;
}

export function timestampField(featureView: string): Buffer {
  return Buffer.from(`_ts:${featureView}`, 'utf8');
}
