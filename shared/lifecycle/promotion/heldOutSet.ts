// The held-out mail of the smoke evaluation. In the Function App it is the gzipped NDJSON copy in Blob that
// `npm run promote -- --publish-heldout` writes once from a machine that has the corpus. Where the corpus package
// is installed (the local host, the CLIs, the tests) the process registers it as the first source
// (training/heldOutCorpus.ts), so nothing has to be published there; serving code never imports training code.
import { gunzipSync } from 'node:zlib';
import { CONTAINERS, heldOutSetPath } from '../../platform/blobLayout';
import { downloadBuffer } from '../../platform/blobStorage';
import { NotFoundError } from '../../platform/errors';
import { SmokeSample } from './smokeEvaluation';

/** A source of the held-out mail tried before Blob; undefined when it has none here. */
export type HeldOutSource = () => SmokeSample[] | undefined;

let registeredSource: HeldOutSource | undefined;

/** Sets (or, with undefined, clears) the source tried before Blob. */
export function registerHeldOutSource(source: HeldOutSource | undefined): void {
  registeredSource = source;
}

/** The held-out messages: from the registered source when it has them, else from the copy in Blob. */
export async function loadHeldOutSet(
  model: string,
  source: HeldOutSource | undefined = registeredSource,
): Promise<{ samples: SmokeSample[]; source: string }> {
  const local = source?.();
  if (local) return { samples: local, source: 'corpus package' };
  const bytes = await downloadBuffer(CONTAINERS.models, heldOutSetPath(model));
  if (!bytes) {
    throw new NotFoundError(
      `no held-out mail for the smoke evaluation: the corpus package is not installed here and ${CONTAINERS.models}/${heldOutSetPath(model)} does not exist (run \`npm run promote -- --publish-heldout\` once)`,
    );
  }
  const text = gunzipSync(bytes).toString('utf8');
  const samples = text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as SmokeSample);
  return { samples, source: `${CONTAINERS.models}/${heldOutSetPath(model)}` };
}
