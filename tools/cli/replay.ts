// `npm run replay`: the drift scenario end to end on the local stack. With --feedback, the prequential replay of the
// learning loop instead (tools/cli/prequentialReplay.ts).
//
//   1. Uses the stack at --url (default http://127.0.0.1:7071/api), or starts `npm start`'s host itself when none
//      answers there, and waits until the committed model's baseline is active (npm start publishes it; the
//      baseline blob trigger activates it). When Blob still holds an older baseline of the version (npm start keeps
//      existing blobs), it uploads the committed one and waits for that to be activated.
//   2. Phase "training period": POSTs held-out mail of the training period that the baseline never saw (the replay
//      half of the validation slice, training/corpus.ts baselineReplaySplit) to /api/predict, in batches, and notes the
//      time window. Sending the baseline's own rows would only show the absence of train/serve skew.
//   3. Phase "test period": POSTs the newer mail (the time-forward test period) the same way.
//   The stack it starts gets a Feast project of its own, which the replay fills before each phase with the store the
//   model read that mail with in training (model card `training.senderFeatures`): as of the fit set's end for the
//   validation mail, as of the training period's end for the test period. Neither holds a label of the mail sent.
//   4. Waits until the inference logger has flushed every row to Blob, then runs the drift check of each phase's
//      window (the same activities as the timer, in this process) and prints both summaries; the reports are stored
//      in drift-reports/ and copied to .local/replay/.
// Exit code 0 when the training-period phase is healthy and the test-period phase is critical, else 1.
import fs from 'node:fs';
import path from 'node:path';
import { Environment, ENVIRONMENTS } from '../../shared/platform/blobLayout';
import { getConfig } from '../../shared/platform/config';
import { CorpusMessage, baselineReplaySplit, loadCorpus, timeForwardSplit } from '../../training/corpus';
import { TrainingStoreMoment } from '../../training/trainingSenderStats';
import { FeatureStore } from '../../shared/serving/featureStore/featureStore';
import { DriftRunRequest } from '../../shared/drift/driftRun';
import { readRunReport, runDriftInProcess } from '../../shared/drift/orchestration';
import { DriftReport, formatReportSummary, serializeReport } from '../../shared/drift/report';
import { renderReportHtml } from '../../shared/drift/reportHtml';
import { COMMITTED_MODEL_VERSION, MODEL_NAME } from '../../shared/model/modelArtifacts';
import { DEFAULT_TRAIN_OPTIONS } from '../../training/trainModel';
import { parseChoice, parseCliArgs, parseInteger, runCli, UsageError } from './cliArgs';
import { projectRoot } from '../../shared/platform/projectRoot';
import {
  ensureCommittedBaselineActive,
  reachable,
  ReplaySenderStore,
  sleep,
  startStack,
  StartedStack,
  waitForLoggedRows,
} from './replayStack';
import { PREQUENTIAL_USAGE, runPrequentialReplay } from './prequentialReplay';

const ROOT = projectRoot();

interface Phase {
  name: string;
  messages: readonly CorpusMessage[];
  /** The Feast store the model read this mail with in training. */
  store: TrainingStoreMoment;
  start?: Date;
  end?: Date;
  sent: number;
  spamPredicted: number;
  degraded: number;
}

async function sendPhase(url: string, env: Environment, phase: Phase, batchSize: number, concurrency: number): Promise<void> {
  const batches: CorpusMessage[][] = [];
  for (let i = 0; i < phase.messages.length; i += batchSize) batches.push(phase.messages.slice(i, i + batchSize));
  phase.start = new Date();
  let next = 0;
  let lastReport = 0;
  const worker = async () => {
    for (let b = next++; b < batches.length; b = next++) {
      // The exact bytes (base64): 8-bit mail in other charsets cannot travel in a JSON string, and the replay measures
      // drift in the mail, not a difference the transport would add.
      const instances = batches[b].map((m) => ({ id: m.id, raw: m.raw.toString('base64'), encoding: 'base64' }));
      const res = await fetch(`${url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-environment': env },
        body: JSON.stringify({ instances }),
      });
      const body = (await res.json()) as {
        results?: { prediction: string; degraded?: boolean }[];
        degraded?: boolean;
        error?: { message: string };
      };
      if (!res.ok) throw new Error(`/api/predict answered ${res.status}: ${body.error?.message ?? JSON.stringify(body).slice(0, 200)}`);
      const results = body.results ?? [];
      if (results.length !== instances.length)
        throw new Error(`/api/predict returned ${results.length} results for ${instances.length} instances`);
      phase.sent += instances.length;
      phase.spamPredicted += results.filter((r) => r.prediction === 'spam').length;
      phase.degraded += results.filter((r) => r.degraded ?? body.degraded).length;
      if (phase.sent - lastReport >= 250 || phase.sent === phase.messages.length) {
        lastReport = phase.sent;
        console.log(`  ${phase.name}: ${phase.sent}/${phase.messages.length} sent`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  phase.end = new Date(Date.now() + 1);
}

/** The largest batch PREDICT_MAX_BATCH allows; the stack's own limit (default 64) may be lower. */
const MAX_BATCH = 1024;
const MAX_CONCURRENCY = 64;

const USAGE = `usage: npm run replay [-- options]
  --url <URL>               the stack's API (default http://127.0.0.1:<LOCAL_HOST_PORT>/api); none answering: starts one
  --env production|staging  the environment the mail is sent to (default production)
  --batch <N>               messages per /api/predict request, 1 to ${MAX_BATCH} and at most the stack's PREDICT_MAX_BATCH (default 32)
  --concurrency <N>         requests in flight, 1 to ${MAX_CONCURRENCY} (default 2)
  --out <dir>               where the reports are copied (default .local/replay)
  --feast-project <name>    the Feast project of the stack it starts (default: one of its own, filled per phase)`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--feedback')) return runPrequentialReplay(argv.filter((a) => a !== '--feedback'));
  const { values } = parseCliArgs(argv, {
    url: { type: 'string' },
    env: { type: 'string', default: 'production' },
    batch: { type: 'string', default: '32' },
    concurrency: { type: 'string', default: '2' },
    out: { type: 'string', default: path.join(ROOT, '.local', 'replay') },
    'feast-project': { type: 'string' },
  });
  const env = parseChoice('env', values.env, ENVIRONMENTS);
  const batchSize = parseInteger('batch', values.batch, { min: 1, max: MAX_BATCH });
  const concurrency = parseInteger('concurrency', values.concurrency, { min: 1, max: MAX_CONCURRENCY });
  // A mistyped URL would not answer, and the replay would start a stack of its own instead.
  if (values.url !== undefined && !(URL.canParse(values.url) && /^https?:$/.test(new URL(values.url).protocol))) {
    throw new UsageError(`--url ${JSON.stringify(values.url)} is not valid: expected an http(s) URL such as http://127.0.0.1:7071/api`);
  }
  const config = getConfig();
  let url = values.url ?? `http://127.0.0.1:${config.localHostPort}/api`;
  let stack: StartedStack | undefined;
  let senderStore: ReplaySenderStore | undefined;
  if (!(await reachable(url))) {
    // --feast-project names a project to use as it is (say, one materialized from logs); by default the replay owns
    // one and serves each phase the store the model read that mail with in training.
    const feastProject = values['feast-project'] ?? `replay_${process.pid}`;
    // The stack started here has this process's settings, so its batch limit is known before anything is sent.
    if (batchSize > config.predictMaxBatch)
      throw new UsageError(`--batch ${batchSize} is more than the stack's PREDICT_MAX_BATCH (${config.predictMaxBatch})`);
    console.log(`no stack at ${url}; starting the local stack (npm start) with Feast project ${feastProject}`);
    stack = await startStack({ FEAST_PROJECT: feastProject, LOCAL_FEAST_SEED: 'false' });
    url = stack.url;
    if (!values['feast-project'])
      senderStore = new ReplaySenderStore(
        new FeatureStore({ url: config.redisUrl, project: feastProject, timeoutMs: config.feastTimeoutMs }),
        config.senderHashKey,
      );
  }
  try {
    console.log(`stack: ${url}`);
    if (!stack) console.log('using the running stack: its Feast project decides the two sender features (see --feast-project)');
    const version = COMMITTED_MODEL_VERSION;
    await ensureCommittedBaselineActive(version, console.log);

    const split = timeForwardSplit(loadCorpus());
    const halves = baselineReplaySplit(split.validation, DEFAULT_TRAIN_OPTIONS.seed);
    console.log(`corpus split: ${split.description}`);
    console.log(`validation slice: ${halves.description}`);
    const phases: Phase[] = [
      {
        name: 'training period (held-out mail the baseline never saw)',
        messages: halves.replay,
        store: 'fit-end',
        sent: 0,
        spamPredicted: 0,
        degraded: 0,
      },
      { name: 'test period (newer mail)', messages: split.test, store: 'training-end', sent: 0, spamPredicted: 0, degraded: 0 },
    ];
    for (const phase of phases) {
      if (senderStore) console.log(await senderStore.serve(phase.store));
      console.log(`sending ${phase.messages.length} messages: ${phase.name}`);
      await sendPhase(url, env, phase, batchSize, concurrency);
      await sleep(5); // the phases' windows must not share a millisecond
    }

    console.log(`waiting for the inference logger to flush (LOG_FLUSH_INTERVAL_MS=${config.logFlushIntervalMs})`);
    for (const phase of phases) {
      const rows = await waitForLoggedRows(env, phase.start!, phase.end!, phase.sent, Math.max(60_000, 6 * config.logFlushIntervalMs));
      console.log(`  ${phase.name}: ${rows} of ${phase.sent} rows logged`);
      if (rows < phase.sent) console.log(`  warning: ${phase.sent - rows} rows not in Blob yet; the check runs on what is there`);
    }

    fs.mkdirSync(values.out, { recursive: true });
    const reports: DriftReport[] = [];
    for (const [i, phase] of phases.entries()) {
      const label = i === 0 ? 'training-period' : 'test-period';
      const request: DriftRunRequest = {
        env,
        modelName: MODEL_NAME,
        modelVersion: version,
        windowStart: phase.start!.toISOString(),
        windowEnd: phase.end!.toISOString(),
        windowHours: config.driftWindowHours,
        trigger: 'replay',
        runId: `replay-${phase.start!.toISOString().replace(/[-:.]/g, '')}-${label}`,
      };
      const summary = await runDriftInProcess(request, {
        onProgress: (d, t, r) => console.log(`  ${label}: partition ${d}/${t}, ${r} rows`),
      });
      if (summary.status === 'skipped') throw new Error(`drift check skipped: ${summary.reason}`);
      const result = await readRunReport(summary);
      reports.push(result);
      fs.writeFileSync(path.join(values.out, `${label}.json`), serializeReport(result));
      fs.writeFileSync(path.join(values.out, `${label}.html`), renderReportHtml(result));
      console.log(`\n=== ${phase.name}: ${phase.sent} sent, ${phase.spamPredicted} predicted spam, ${phase.degraded} degraded ===`);
      console.log(formatReportSummary(result, { limit: 8 }));
      console.log(
        `report: drift-reports/${result.paths.json} (copy: ${path.relative(process.cwd(), path.join(values.out, `${label}.html`))})\n`,
      );
    }
    const ok = reports[0].status === 'healthy' && reports[1].status === 'critical';
    console.log(
      ok
        ? 'replay: training-period mail is healthy and the newer mail is critical, as expected'
        : `replay: UNEXPECTED outcome (training period ${reports[0].status}, test period ${reports[1].status})`,
    );
    return ok ? 0 : 1;
  } finally {
    await senderStore?.close();
    await stack?.stop();
  }
}

if (require.main === module)
  runCli(
    'replay',
    main,
    `${USAGE}

${PREQUENTIAL_USAGE}`,
  );
