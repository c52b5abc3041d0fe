// The held-out mail of the smoke evaluation, taken from the corpus: the time-forward test period (mail never used
// for any training choice; the card's `timeForwardTest` figures are measured on it). The corpus is an npm
// devDependency, so this is for the machines that have it (the local host, the CLIs, the tests); the Function App
// reads the gzipped NDJSON copy that `publishHeldOutSet` writes to Blob.
import { gzipSync } from 'node:zlib';
import { CONTAINERS, heldOutSetPath } from '../shared/platform/blobLayout';
import { getContainerClient } from '../shared/platform/blobStorage';
import { HeldOutSource } from '../shared/lifecycle/promotion/heldOutSet';
import { SmokeSample } from '../shared/lifecycle/promotion/smokeEvaluation';
import { CorpusMessage, CorpusUnavailableError, loadCorpus, timeForwardSplit } from './corpus';

/**
 * The test period of the time-forward split (no seed is involved: the newest 30 % of the corpus by Received: time),
 * each message's exact bytes in base64, so the gateway computes the features training computed (8-bit mail in
 * other charsets included).
 */
export function heldOutFromCorpus(corpus: readonly CorpusMessage[]): SmokeSample[] {
  return timeForwardSplit(corpus).test.map((m) => ({ raw: m.raw.toString('base64'), encoding: 'base64' as const, spam: m.spam }));
}

/** The corpus as the smoke evaluation's first source; nothing where the corpus package is not installed. */
export function corpusHeldOutSource(corpus: () => readonly CorpusMessage[] = loadCorpus): HeldOutSource {
  return () => {
    try {
      return heldOutFromCorpus(corpus());
    } catch (err) {
      if (err instanceof CorpusUnavailableError) return undefined;
      throw err;
    }
  };
}

export async function publishHeldOutSet(
  model: string,
  corpus: () => readonly CorpusMessage[] = loadCorpus,
): Promise<{ blob: string; messages: number; bytes: number }> {
  const samples = heldOutFromCorpus(corpus());
  const body = gzipSync(Buffer.from(samples.map((s) => JSON.stringify(s)).join('\n') + '\n', 'utf8'));
  const blob = heldOutSetPath(model);
  await getContainerClient(CONTAINERS.models)
    .getBlockBlobClient(blob)
    .uploadData(body, { blobHTTPHeaders: { blobContentType: 'application/x-ndjson', blobContentEncoding: 'gzip' } });
  return { blob: `${CONTAINERS.models}/${blob}`, messages: samples.length, bytes: body.length };
}
