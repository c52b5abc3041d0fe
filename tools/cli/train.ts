// `npm run train [-- options]`: train the spam model on the SpamAssassin corpus and write its artifacts.
//
//   --seed N            seed of the folds and the random split (default 42)
//   --version V         model version (default: the committed version, so the defaults reproduce models/)
//   --out DIR           output root in the blob layout (default: the repository's models/)
//   --created ISO       card/baseline creation time (default: derived from the data, so reruns are identical)
//   --target-fpr F      ham false-positive rate the threshold is chosen for (default 0.01)
//   --subsample K       every K-th corpus message only (quick experiments; default 1, at most 20)
//   --development       the development split: train and evaluate on the time-forward training period alone (its
//                       older part fitted, its newest part the test); design choices are made on this, so the real
//                       test period is never looked at. Writes nothing unless --out is given; no upload.
//   Design alternatives, for comparing on the development split (docs/model.md):
//   --validation random the validation slice a random part of the training period instead of its newest mail
//   --no-sender-history every row with the unknown-sender defaults instead of its point-in-time sender statistics
//   --max-tokens N      size bound of the token table (default 20000)
//   --fit-forms raw|both        fit on the raw messages only, or also on their structured projection (default both)
//   --validation-forms raw|both the forms of the validation slice that choose L2 and the threshold (default both)
//   --upload            also upload to Blob: models/{name}/{version}/ and baselines/{name}/{version}/baseline.json,
//                       with the app's storage settings (AzureWebJobsStorage or the identity-based ones)
//   --storage CONN      upload with this storage connection string instead (implies --upload)
//   --overwrite         with --upload, replace blobs that exist (default: keep them)
//   With --upload and MLFLOW_TRACKING_URI set, the version is also registered in MLflow (training/mlflowRegistry.ts).
import path from 'node:path';
import { baselineFile, localModelsRoot, modelDirectory, publishModel } from '../../shared/model/modelArtifacts';
import { DEFAULT_TRAIN_OPTIONS, TrainOptions, TrainingResult, trainModel, writeArtifacts } from '../../training/trainModel';
import { ensureContainers, resetBlobServiceClient } from '../../shared/platform/blobStorage';
import { STORAGE_CONNECTION, resetConfig } from '../../shared/platform/config';
import { CONTAINERS } from '../../shared/platform/blobLayout';
import { registerWithMlflowIfConfigured } from '../../training/mlflowRegistry';
import { validateModelVersion } from '../../shared/model/modelVersion';
import { asUsage, parseChoice, parseCliArgs, parseInteger, parseIsoTime, parseNumber, runCli, UsageError } from './cliArgs';

/**
 * The largest --subsample: every 20th message leaves about 300 of the corpus' 6,046 messages, enough for every split
 * to hold both labels. Much sparser samples (every 40th, say) can leave a validation slice with one label only, which
 * fails late (a ROC AUC of NaN in the card); absurd ones (1e9) leave nothing to train on.
 */
export const MAX_SUBSAMPLE = 20;

const USAGE = `usage: npm run train [-- options]
  --seed <N>              seed of the folds and the random split, an integer from 0 to 4294967295 (default ${DEFAULT_TRAIN_OPTIONS.seed})
  --version <V>           model version (default ${DEFAULT_TRAIN_OPTIONS.version}, the committed one)
  --out <dir>             output root in the blob layout (default: the repository's models/)
  --created <ISO time>    card/baseline creation time, such as 2026-01-15T10:00:00Z (default: derived from the data)
  --target-fpr <F>        ham false-positive rate the threshold is chosen for, more than 0 and less than 0.5 (default ${DEFAULT_TRAIN_OPTIONS.targetHamFpr})
  --subsample <K>         every K-th corpus message only, 1 to ${MAX_SUBSAMPLE} (default 1)
  --development           the development split (training period only); writes nothing unless --out is given
  --validation newest|random  the validation slice (default ${DEFAULT_TRAIN_OPTIONS.validationSlice})
  --no-sender-history     the unknown-sender defaults on every row
  --max-tokens <N>        size bound of the token table, a positive integer (default ${DEFAULT_TRAIN_OPTIONS.tokenTable.maxTokens})
  --fit-forms raw|both    fit on the raw messages, or also on their structured projection (default ${DEFAULT_TRAIN_OPTIONS.fitForms})
  --validation-forms raw|both  the validation forms that choose L2 and the threshold (default ${DEFAULT_TRAIN_OPTIONS.validationForms})
  --upload                also upload to Blob with the app's storage settings
  --storage <CONN>        upload with this storage connection string (implies --upload)
  --overwrite             with --upload or --storage, replace blobs that exist`;

/** The CLI: parse `args`, train, write, optionally upload; progress and figures go to `print`. */
export async function runTrainCli(args: string[], print: (line: string) => void = console.log): Promise<TrainingResult> {
  const { values } = parseCliArgs(args, {
    seed: { type: 'string' },
    version: { type: 'string' },
    out: { type: 'string' },
    created: { type: 'string' },
    'target-fpr': { type: 'string' },
    subsample: { type: 'string' },
    development: { type: 'boolean', default: false },
    validation: { type: 'string' },
    'no-sender-history': { type: 'boolean', default: false },
    'max-tokens': { type: 'string' },
    'fit-forms': { type: 'string' },
    'validation-forms': { type: 'string' },
    upload: { type: 'boolean', default: false },
    storage: { type: 'string' },
    overwrite: { type: 'boolean', default: false },
  });
  const created = values.created === undefined ? undefined : parseIsoTime('created', values.created);
  const options: Partial<TrainOptions> = {
    seed: values.seed === undefined ? DEFAULT_TRAIN_OPTIONS.seed : parseInteger('seed', values.seed, { min: 0, max: 0xffffffff }),
    version: asUsage(() => validateModelVersion(values.version ?? DEFAULT_TRAIN_OPTIONS.version)),
    targetHamFpr:
      values['target-fpr'] === undefined
        ? DEFAULT_TRAIN_OPTIONS.targetHamFpr
        : parseNumber('target-fpr', values['target-fpr'], { above: 0, below: 0.5 }),
    subsample: values.subsample === undefined ? 1 : parseInteger('subsample', values.subsample, { min: 1, max: MAX_SUBSAMPLE }),
    development: values.development,
    validationSlice:
      values.validation === undefined
        ? DEFAULT_TRAIN_OPTIONS.validationSlice
        : parseChoice('validation', values.validation, ['newest', 'random']),
    senderHistory: !values['no-sender-history'],
    fitForms: parseChoice('fit-forms', values['fit-forms'] ?? DEFAULT_TRAIN_OPTIONS.fitForms, ['raw', 'both']),
    validationForms: parseChoice('validation-forms', values['validation-forms'] ?? DEFAULT_TRAIN_OPTIONS.validationForms, ['raw', 'both']),
    tokenTable: {
      ...DEFAULT_TRAIN_OPTIONS.tokenTable,
      maxTokens:
        values['max-tokens'] === undefined
          ? DEFAULT_TRAIN_OPTIONS.tokenTable.maxTokens
          : parseInteger('max-tokens', values['max-tokens'], { min: 1 }),
    },
    ...(created ? { created: created.toISOString() } : {}),
  };
  if (values.development && (values.upload || values.storage))
    throw new UsageError('--development trains a model for comparison only: it cannot be uploaded');
  if (values.overwrite && !(values.upload || values.storage))
    throw new UsageError('--overwrite applies to an upload: give --upload or --storage too');
  const root = path.resolve(values.out ?? localModelsRoot());

  const started = performance.now();
  const progress = (line: string) => print(`[train ${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}`);
  const result = await trainModel(options, progress);
  if (!values.development || values.out)
    for (const file of writeArtifacts(result, root)) progress(`wrote ${path.relative(process.cwd(), file)}`);

  const m = result.card.metrics;
  const forms = result.card.inputForms;
  print('');
  print(
    `${values.development ? 'development split (training period only): ' : ''}model ${result.card.name} ${result.card.version}, threshold ${result.card.threshold.value} (ham FPR target ${result.card.threshold.targetHamFalsePositiveRate})`,
  );
  const rows = Object.entries(m);
  if (forms) rows.splice(1, 0, ['timeForwardTest (structured)', forms.timeForwardTest.structured]);
  for (const [name, r] of rows) {
    print(
      `  ${name.padEnd(28)} rows ${String(r.rows).padStart(5)} (spam ${String(r.spam).padStart(4)})  ROC AUC ${r.rocAuc.toFixed(4)}  spam recall ${r.spamRecall.toFixed(4)}  ham FPR ${r.hamFalsePositiveRate.toFixed(4)}  precision ${r.precision.toFixed(4)}  accuracy ${r.accuracy.toFixed(4)}` +
        (r.oracleSpamRecallAtTargetHamFpr !== undefined
          ? `  (recall at ${result.card.threshold.targetHamFalsePositiveRate} FPR with a threshold picked on this set: ${r.oracleSpamRecallAtTargetHamFpr.toFixed(4)})`
          : ''),
    );
  }
  const diagnostics = result.card.diagnostics as
    | {
        timeForwardTestFalsePositivesBySenderDomain?: {
          senderDomain: string;
          falsePositives: number;
          testHam: number;
          trainingPeriodMessages: number;
        }[];
      }
    | undefined;
  for (const d of diagnostics?.timeForwardTestFalsePositivesBySenderDomain ?? []) {
    print(
      `  time-forward test false positives from ${d.senderDomain}: ${d.falsePositives} of its ${d.testHam} ham (training period: ${d.trainingPeriodMessages} messages from it)`,
    );
  }

  for (const ex of forms?.shortHamExamples ?? [])
    print(`  short ham, structured form: ${ex.name}: p_spam ${ex.spamProbability.toFixed(4)} → ${ex.prediction}`);

  if (values.upload || values.storage) {
    if (values.storage) {
      process.env[STORAGE_CONNECTION] = values.storage;
      resetConfig();
      resetBlobServiceClient();
    }
    const version = result.card.version;
    await ensureContainers([CONTAINERS.models, CONTAINERS.baselines]);
    const published = await publishModel(modelDirectory(version, root, result.card.name), baselineFile(version, root, result.card.name), {
      name: result.card.name,
      version,
      overwrite: values.overwrite,
    });
    for (const blob of published.uploaded) progress(`uploaded ${blob}`);
    for (const blob of published.skipped) progress(`kept existing ${blob} (pass --overwrite to replace)`);
    // The registry points at the uploaded Blob folder, so it is only told about versions that were uploaded.
    await registerWithMlflowIfConfigured(result.card, progress);
  }
  return result;
}

if (require.main === module) {
  runCli(
    'train',
    async (argv) => {
      await runTrainCli(argv);
    },
    USAGE,
  );
}
