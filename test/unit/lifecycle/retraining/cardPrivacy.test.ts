// A retrained model's card names no sender domain in clear: the committed card's error analysis (which names the
// public corpus's domains) comes out with keyed hashes in their place and everything else as it was.
import fs from 'node:fs';
import path from 'node:path';
import { pseudonymizeSenderDomains } from '../../../../shared/lifecycle/retraining/cardPrivacy';
import { committedModelDir, MODEL_FILES } from '../../../../shared/model/modelArtifacts';
import { parseModelCard } from '../../../../shared/model/modelCard';
import { senderDomainHash } from '../../../../shared/serving/predict/senderHash';

const card = parseModelCard(JSON.parse(fs.readFileSync(path.join(committedModelDir(), MODEL_FILES.card), 'utf8')));

interface DomainRow {
  senderDomain: string;
}

test('every sender domain of the diagnostics becomes its keyed hash', () => {
  const diagnostics = card.diagnostics as { timeForwardTestFalsePositivesBySenderDomain: DomainRow[] };
  const domains = diagnostics.timeForwardTestFalsePositivesBySenderDomain.map((r) => r.senderDomain);
  expect(domains.length).toBeGreaterThan(2);

  const out = pseudonymizeSenderDomains(card);
  const text = JSON.stringify(out);
  for (const d of domains) expect(text).not.toContain(d);
  const rows = (out.diagnostics as typeof diagnostics).timeForwardTestFalsePositivesBySenderDomain;
  expect(rows.map((r) => r.senderDomain)).toEqual(domains.map((d) => senderDomainHash(d)));
  expect((out.diagnostics as Record<string, unknown>).timeForwardTestWithoutTopFalsePositiveSender).toMatchObject({
    excludedSenderDomain: senderDomainHash(domains[0]),
  });
  expect(out.diagnostics!.senderDomains).toMatch(/HMAC-SHA256 with SENDER_HASH_KEY/);
  // Nothing else changes, and the result is still a valid card.
  expect({ ...out, diagnostics: undefined }).toEqual({ ...card, diagnostics: undefined });
  expect(parseModelCard(JSON.parse(text))).toEqual(out);
});

test('a row without a sender domain keeps its marker; a card without diagnostics is returned as it is', () => {
  const withNone = {
    ...card,
    diagnostics: { timeForwardTestFalsePositivesBySenderDomain: [{ senderDomain: '(none)', falsePositives: 1 }] },
  };
  expect(pseudonymizeSenderDomains(withNone).diagnostics!.timeForwardTestFalsePositivesBySenderDomain).toEqual([
    { senderDomain: '(none)', falsePositives: 1 },
  ]);
  const bare = { ...card, diagnostics: undefined };
  expect(pseudonymizeSenderDomains(bare)).toBe(bare);
});
