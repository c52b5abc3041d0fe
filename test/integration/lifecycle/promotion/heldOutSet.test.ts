// The smoke evaluation's held-out mail where the corpus package is not installed (the Function App): published to
// Blob from the corpus, read back identically from Azurite; a clear error when neither exists.
import { CONTAINERS } from '../../../../shared/platform/blobLayout';
import { ensureContainers } from '../../../../shared/platform/blobStorage';
import { CorpusUnavailableError, loadCorpus, timeForwardSplit } from '../../../../training/corpus';
import { NotFoundError } from '../../../../shared/platform/errors';
import { loadHeldOutSet } from '../../../../shared/lifecycle/promotion/heldOutSet';
import { corpusHeldOutSource, heldOutFromCorpus, publishHeldOutSet } from '../../../../training/heldOutCorpus';
import { spreadSamples } from '../../../../shared/lifecycle/promotion/smokeEvaluation';
import { startTestAzurite, TestAzurite } from '../../../helpers/azurite';
import { setAppEnv } from '../../../helpers/env';

let azurite: TestAzurite;
let restore: () => void;
const noCorpus = (): never => {
  throw new CorpusUnavailableError('Cannot find module (as in a deployment without dev dependencies)');
};

beforeAll(async () => {
  azurite = await startTestAzurite();
  restore = setAppEnv({ AzureWebJobsStorage: azurite.connectionString });
  await ensureContainers([CONTAINERS.models]);
});
afterAll(async () => {
  restore();
  await azurite.dispose();
});

test('without the corpus package the held-out set comes from Blob, byte for byte the same mail', async () => {
  await expect(loadHeldOutSet('spam-detector', corpusHeldOutSource(noCorpus))).rejects.toThrow(NotFoundError);
  const fromCorpus = heldOutFromCorpus(loadCorpus());
  const published = await publishHeldOutSet('spam-detector');
  expect(published).toMatchObject({ blob: 'models/evaluation/spam-detector/heldout.ndjson.gz', messages: fromCorpus.length });
  const loaded = await loadHeldOutSet('spam-detector', corpusHeldOutSource(noCorpus));
  expect(loaded.source).toBe('models/evaluation/spam-detector/heldout.ndjson.gz');
  expect(loaded.samples).toEqual(fromCorpus);
  expect((await loadHeldOutSet('spam-detector', corpusHeldOutSource())).source).toBe('corpus package');
  // The mail survives the trip exactly: base64 of every byte of the raw RFC 822 message, 8-bit charsets included.
  const test = timeForwardSplit(loadCorpus()).test;
  expect(loaded.samples.every((s) => s.encoding === 'base64')).toBe(true);
  expect(loaded.samples.every((s, i) => Buffer.from(s.raw, 'base64').equals(test[i].raw))).toBe(true);
});

test('spreadSamples takes evenly spaced messages, all of them when asked for more', () => {
  const samples = Array.from({ length: 10 }, (_, i) => ({ raw: String(i), spam: i % 2 === 0 }));
  expect(spreadSamples(samples, 5).map((s) => s.raw)).toEqual(['0', '2', '4', '6', '8']);
  expect(spreadSamples(samples, 100)).toEqual(samples);
});
