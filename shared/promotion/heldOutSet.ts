// The held-out mail of the smoke evaluation: the time-forward test period of the corpus (mail never used for any
// training choice; the card's `timeForwardTest` figures are measured on it). The corpus is an npm devDependency,
// so it is there for the CLI, the local host and the tests, but not in the Function App (remote build without dev
// dependencies): there the same messages come from a gzipped NDJSON copy in Blob, which
// `npm run promote -- --publish-heldout` writes once from a machine that has the corpus.
import { gunzipSync, gzipSync } from 'node:zlib';
import { CONTAINERS, heldOutSetPath } from '../blobLayout';
import { downloadBuffer, getContainerClient } from '../blobStorage';
import { CorpusMessage, CorpusUnavailableError, loadCorpus, timeForwardSplit } from '../corpus';
import { NotFoundError } from '../errors';
import { SmokeSample } from './smokeEvaluation';

/**
 * The test period of the time-forward split (no seed is involved: the newest 30 % of the corpus by Received: time),
 * each message's exact bytes in base64, so the gateway computes the features training computed (8-bit mail in
 * other charsets included).
 */
export function heldOutFromCorpus(corpus: readonly CorpusMessage[]): SmokeSample[] {
  return timeForwardSplit(corpus).test.map((m) => ({ raw: m.raw.toString('base64'), encoding: 'base64' as const, spam: m.spam }));
}

export async function publishHeldOutSet(model: string, corpus: () => readonly CorpusMessage[] = loadCorpus): Promise<{ blob: string; messages: number; bytes: number }> {
  const samples = heldOutFromCorpus(corpus());
  const body = gzipSync(Buffer.from(samples.map((s) => JSON.stringify(s)).join('\n') + '\n', 'utf8'));
  const blob = heldOutSetPath(model);
  await getContainerClient(CONTAINERS.models).getBlockBlobClient(blob).uploadData(body, { blobHTTPHeaders: { blobContentType: 'application/x-ndjson', blobContentEncoding: 'gzip' } });
  return { blob: `${CONTAINERS.models}/${blob}`, messages: samples.length, bytes: body.length };
}

/** The held-out messages: from the corpus package when installed, else from the copy in Blob. */
export async function loadHeldOutSet(model: string, corpus: () => readonly CorpusMessage[] = loadCorpus): Promise<{ samples: SmokeSample[]; source: string }> {
  try {
    return { samples: heldOutFromCorpus(corpus()), source: 'corpus package' };
  } catch (err) {
    if (!(err instanceof CorpusUnavailableError)) throw err;
  }
  const bytes = await downloadBuffer(CONTAINERS.models, heldOutSetPath(model));
  if (!bytes) {
    throw new NotFoundError(
      `no held-out mail for the smoke evaluation: the corpus package is not installed here and ${CONTAINERS.models}/${heldOutSetPath(model)} does not exist (run \`npm run promote -- --publish-heldout\` once)`,
    );
  }
  const text = gunzipSync(bytes).toString('utf8');
  const samples = text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as SmokeSample);
  return { samples, source: `${CONTAINERS.models}/${heldOutSetPath(model)}` };
}
