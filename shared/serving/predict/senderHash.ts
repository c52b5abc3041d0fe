// The keyed hash of the sender domain: the Feast entity key of `sender_stats` and the only trace of the sender in
// the inference log. HMAC-SHA256 with a secret key from configuration (SENDER_HASH_KEY), so the log cannot be
// reversed by hashing a list of domains; gateway and materializer share the key.
import { createHmac } from 'node:crypto';
import { getConfig } from '../../platform/config';

// Mail comes from a limited set of domains; an HMAC object per request showed up at ~1 % of the gateway's CPU.
const CACHE_LIMIT = 10_000;
const cache = new Map<string, string>();

/** The sender domain as the store keys it (before hashing): trimmed, lower case. */
export function normalizeSenderDomain(domain: string): string {
  return domain.trim().toLowerCase();
}

/** Hex HMAC-SHA256 of the normalized domain, truncated to 128 bits (32 hex characters). */
export function senderDomainHash(domain: string, key: string = getConfig().senderHashKey): string {
  const normalized = normalizeSenderDomain(domain);
  const cacheKey = `${key}\u0000${normalized}`;
  const hit = cache.get(cacheKey);
  if (hit !== undefined) return hit;
  const hash = createHmac('sha256', key).update(normalized, 'utf8').digest('hex').slice(0, 32);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(cacheKey, hash);
  return hash;
}
