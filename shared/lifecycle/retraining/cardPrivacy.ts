// A retrained model's card travels with the model (models/, the challengers kept for inspection, MLflow) and is read
// by anyone who may read models. Training's error analysis names the sender domains of the test rows' false
// positives, and a retrained model's test rows are mostly user feedback: in its card they appear only as the keyed
// hash the inference log and the feature store use (SENDER_HASH_KEY), which whoever holds the key can match against
// a domain they suspect, and nobody else can reverse. Nothing else in a card is taken from a message.
import type { ModelCard } from '../../model/modelCard';
import { senderDomainHash } from '../../serving/predict/senderHash';

/** What training writes for a row without a sender domain: names no one. */
const NO_DOMAIN = '(none)';

const isSenderDomainKey = (key: string) => /senderdomain$/i.test(key);

function pseudonymize(value: unknown, key?: string): unknown {
  if (typeof value === 'string') return key && isSenderDomainKey(key) && value !== NO_DOMAIN ? senderDomainHash(value) : value;
  if (Array.isArray(value)) return value.map((v) => pseudonymize(v));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, pseudonymize(v, k)]));
  return value;
}

/** The card with every sender domain of its diagnostics replaced by its keyed hash, and a note saying so. */
export function pseudonymizeSenderDomains(card: ModelCard): ModelCard {
  if (!card.diagnostics) return card;
  return {
    ...card,
    diagnostics: {
      ...(pseudonymize(card.diagnostics) as Record<string, unknown>),
      senderDomains:
        'keyed hashes (HMAC-SHA256 with SENDER_HASH_KEY, as the inference log and the feature store key senders): the rows are user feedback',
    },
  };
}
