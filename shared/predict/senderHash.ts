// The keyed hash of the sender domain: the Feast entity key of `sender_stats` and the only trace of the sender in
// the inference log. HMAC-SHA256 with a secret key from configuration (SENDER_HASH_KEY), so the log cannot be
// reversed by hashing a list of domains; gateway and materializer share the key.
import { createHmac } from 'node:crypto';
import { getConfig } from '../config';

/** Hex HMAC-SHA256 of the lower-cased domain, truncated to 128 bits (32 hex characters). */
export function senderDomainHash(domain: string, key: string = getConfig().senderHashKey): string {
  return createHmac('sha256', key).update(domain.trim().toLowerCase(), 'utf8').digest('hex').slice(0, 32);
}
