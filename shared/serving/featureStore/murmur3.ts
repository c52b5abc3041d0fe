// MurmurHash3 x86 32-bit (Austin Appleby's reference, the one Python's `mmh3.hash` implements). Feast names the
// hash fields of its Redis layout with it: `mmh3.hash("<feature_view>:<feature>", signed=False)` as 4 little-endian
// bytes (feast/infra/online_stores/redis.py `_mmh3`).

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Unsigned 32-bit MurmurHash3 (x86) of `data` with `seed`. Strings are hashed as UTF-8, as `mmh3` does. */
export function murmur3x86_32(data: Uint8Array | string, seed = 0): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const len = bytes.length;
  const blocks = len & ~3;
  let h = seed >>> 0;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = len & 3;
  if (tail) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2] << 16;
    if (tail >= 2) k ^= bytes[blocks + 1] << 8;
    k ^= bytes[blocks];
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= len;
  return fmix32(h);
}
