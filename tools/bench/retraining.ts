// `npm run bench:retraining`: the wall time of one retraining end to end, step by step, on the in-process runner
// against a private Azurite, with the full corpus training period and a few thousand feedback records.
//
// Setup (not timed): Azurite, the local Kubernetes API of tools/devhost (the production InferenceService serves the
// committed model, the champion), the committed model and baseline in Blob, and `--records` feedback records written
// by the feedback intake's own writer: the corpus's test period (the newer mail the champion never saw) with its true
// labels, received over the 14 days before the first cut-off in the order of their own time. The test period has
// 1,814 messages; records beyond that label the newest ones again (a resubmission: the latest label per message wins,
// so the dataset has 1,814 feedback messages).
//
// Each run is a child process (cold: it parses the corpus as a training Job would) that starts a retraining with a
// cut-off of its own (so a version of its own) and times the orchestrator's steps as it logs them, each up to the
// next one's start: gather, train, compare (with the gate decision and the challenger's card), register, and start
// the promotion; the last step's time includes the finish (the held-out copy deleted, the record written). The
// promotion a winner starts is not timed; no gateway runs here, so its smoke evaluation fails and it rolls staging
// back. MLflow is not configured. The gate is opened wide, so that every run registers its challenger and times that
// step; each run also prints the verdict the app's own gate settings give on the same figures (with --app-gate the
// runs use those settings, and a loser registers nothing). Figures are medians over the runs; the machine is shared, so every run prints the
// load average and the CPU time its process got.
//
//   npm run bench:retraining -- [--runs 3] [--records 2000]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median } from 'simple-statistics';
import { positiveOption } from './options';
import { parseCliArgs, parseIsoTime, runCli } from '../cli/cliArgs';
import { freePort, startAzurite } from '../devhost/azurite';
import { kubeconfigYaml, startLocalKubeApi } from '../devhost/kubeApi';
import { CONTAINERS } from '../../shared/platform/blobLayout';
import { ensureContainers, resetBlobServiceClient } from '../../shared/platform/blobStorage';
import { resetConfig } from '../../shared/platform/config';
import { errorMessage } from '../../shared/platform/errors';
import { ANNOTATIONS } from '../../shared/lifecycle/kubernetes/inferenceService';
import { COMMITTED_MODEL_VERSION, publishCommittedModel } from '../../shared/model/modelArtifacts';
import { FeedbackWriter, feedbackWriterOptionsFromConfig } from '../../shared/feedback/feedbackWriter';
import { registerHeldOutSource } from '../../shared/lifecycle/promotion/heldOutSet';
import { localPromotion } from '../../shared/lifecycle/promotion/service';
import { inProcessRetrainingBackend, localRetraining, startRetraining } from '../../shared/lifecycle/retraining/service';
import { registerRetrainingTrainer } from '../../shared/lifecycle/retraining/trainer';
import { decideGate } from '../../shared/lifecycle/retraining/gate';
import { retrainingSettings } from '../../shared/lifecycle/retraining/service';
import type { Comparison, RetrainingRecord } from '../../shared/lifecycle/retraining/types';
import { loadCorpus, timeForwardSplit } from '../../training/corpus';
import { corpusHeldOutSource } from '../../training/heldOutCorpus';
import { inProcessTrainer } from '../../training/retrainingTrainer';

const USAGE = `usage: npm run bench:retraining [-- options]
  --runs <N>      retrainings, each in a fresh process with a cut-off of its own, a positive integer (default 3)
  --records <N>   feedback records written before the runs, a positive integer (default 2000)
  --app-gate      gate with the app's settings instead of letting every challenger through to registration`;

const NAMESPACE = 'kserve';
/** The orchestrator's steps, in order, as it logs them (`[retraining {id}] {step}: ...`), and what each time covers. */
const STEPS: Record<string, string> = {
  gather: 'gather (champion, feedback)',
  train: 'train (corpus + feedback)',
  compare: 'compare, gate, card',
  gate: 'gate (a loser: + finish)',
  register: 'register (models/, baseline)',
  promote: 'start promotion + finish',
  failed: 'failed: finish',
};

interface RunResult {
  outcome: string;
  reason?: string;
  challenger?: string;
  feedbackMessages?: number;
  comparison?: Comparison;
  promotion?: string;
  /** Step → wall seconds and this process's CPU seconds. */
  steps: Record<string, { wall: number; cpu: number }>;
  total: { wall: number; cpu: number };
  load: { before: number[]; after: number[] };
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** The child: one retraining with this cut-off, timed at each step the orchestrator logs; prints its RunResult. */
async function runOnce(cutoff: Date): Promise<void> {
  registerRetrainingTrainer(inProcessTrainer());
  registerHeldOutSource(corpusHeldOutSource());
  const marks: Array<{ step: string; at: number; cpu: number }> = [];
  const quiet = () => undefined;
  const logger = {
    log: (...args: unknown[]) => {
      const m = /^\[retraining [^\]]+\] (\w+)(?::|$)/.exec(String(args[0]));
      if (m && m[1] in STEPS) marks.push({ step: m[1], at: performance.now(), cpu: cpuSeconds() });
    },
    warn: quiet,
    error: (...args: unknown[]) => process.stderr.write(`${args.map(String).join(' ')}\n`),
  };
  const before = os.loadavg();
  const started = { at: performance.now(), cpu: cpuSeconds() };
  const input = await startRetraining(inProcessRetrainingBackend(logger), { trigger: 'http', requestedBy: 'bench:retraining', cutoff });
  const record: RetrainingRecord = await localRetraining(input.runId)!.done;
  const end = { at: performance.now(), cpu: cpuSeconds() };
  const steps: RunResult['steps'] = {};
  const points = [...marks, end];
  for (let i = 0; i < marks.length; i++) {
    steps[marks[i].step] = { wall: (points[i + 1].at - marks[i].at) / 1000, cpu: points[i + 1].cpu - marks[i].cpu };
  }
  let promotion: string | undefined;
  if (record.promotionId) {
    const done = await localPromotion(record.promotionId)!.done;
    promotion = `${done.outcome}${done.reason ? ` (${done.reason.slice(0, 120)})` : ''}`;
  }
  const result: RunResult = {
    outcome: record.outcome,
    ...(record.reason ? { reason: record.reason } : {}),
    challenger: record.challenger,
    feedbackMessages: record.feedback?.messages,
    comparison: record.comparison,
    ...(promotion ? { promotion } : {}),
    steps,
    total: { wall: (end.at - started.at) / 1000, cpu: end.cpu - started.cpu },
    load: { before, after: os.loadavg() },
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

/** Feedback records of the test period's mail, through the intake's writer, received before `cutoff`. */
async function writeFeedback(records: number, cutoff: Date): Promise<{ records: number; messages: number }> {
  const mail = timeForwardSplit(loadCorpus()).test;
  const span = 14 * 86400_000;
  const writer = new FeedbackWriter(feedbackWriterOptionsFromConfig());
  for (let i = 0; i < records; i++) {
    // Beyond the test period, the newest messages are labelled again, later (latest wins).
    const m = mail[i < mail.length ? i : mail.length - 1 - (i - mail.length)];
    const receivedAt = new Date(cutoff.getTime() - span + Math.floor((i * span) / records) + 1);
    if (!writer.accept([{ label: m.spam ? 'spam' : 'ham', email: { raw: m.raw } }], receivedAt)) {
      throw new Error('the feedback writer refused a record (its buffer is full)');
    }
  }
  const stats = await writer.close(120_000);
  if (stats.written !== records) throw new Error(`wrote ${stats.written} of ${records} feedback records`);
  return { records, messages: Math.min(records, mail.length) };
}

function runChild(cutoff: Date, env: NodeJS.ProcessEnv): Promise<RunResult> {
  const child = spawn(process.execPath, [__filename, '--run', cutoff.toISOString()], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice('RESULT '.length)) as RunResult);
      else reject(new Error(`the run for cut-off ${cutoff.toISOString()} exited with ${code}`));
    });
  });
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const loadText = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ');

async function main(argv: string[]): Promise<void> {
  const { values } = parseCliArgs(argv, {
    runs: { type: 'string' },
    records: { type: 'string' },
    'app-gate': { type: 'boolean', default: false },
    run: { type: 'string' }, // internal: the child process, with its cut-off
  });
  if (values.run !== undefined) return runOnce(parseIsoTime('run', values.run));
  const runs = positiveOption('runs', values.runs, 3);
  const records = positiveOption('records', values.records, 2000);

  // The gate as the app would apply it, read before this process's settings are pointed at the benchmark's services.
  const appGate = retrainingSettings();
  const location = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-retraining-'));
  const azurite = await startAzurite({ port: await freePort(), location });
  const kube = await startLocalKubeApi();
  kube.readyAfterMs = 10;
  try {
    for (const name of ['spam-detector-staging', 'spam-detector']) {
      kube.addInferenceService({
        name,
        namespace: NAMESPACE,
        storageUri: `https://example.invalid/models/spam-detector/${COMMITTED_MODEL_VERSION}/triton/`,
        annotations: { [ANNOTATIONS.modelVersion]: COMMITTED_MODEL_VERSION },
      });
    }
    const kubeconfig = path.join(location, 'kubeconfig');
    fs.writeFileSync(kubeconfig, kubeconfigYaml(kube.url, kube.caData), { mode: 0o600 });
    // The benchmark's own services only: no MLflow, no cluster or gateway the environment may name.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AzureWebJobsStorage: azurite.connectionString,
      WORKFLOW_BACKEND: 'in-process',
      KUBE_CONNECTION: 'kubeconfig',
      KUBECONFIG: kubeconfig,
      PROMOTION_GATEWAY_URL: `http://127.0.0.1:${await freePort()}/api`,
      PROMOTION_READY_POLL_MS: '50',
      ...(values['app-gate'] ? {} : { RETRAIN_MIN_AUC_GAIN: '-1', RETRAIN_MAX_HAM_FPR_INCREASE: '1', RETRAIN_MAX_SPAM_RECALL_DROP: '1' }),
    };
    for (const name of ['MLFLOW_TRACKING_URI', 'KUBE_CONTEXT', 'KSERVE_MODELS_URI', 'RETRAIN_TRAINER']) {
      delete env[name];
      delete process.env[name];
    }
    Object.assign(process.env, env);
    resetConfig();
    resetBlobServiceClient();

    await ensureContainers([CONTAINERS.models, CONTAINERS.baselines, CONTAINERS.feedback]);
    await publishCommittedModel();
    // Cut-offs one second apart, the last one now at the latest: each run trains its own version.
    const firstCutoff = new Date(Math.floor(Date.now() / 1000) * 1000 - runs * 1000);
    const writeStarted = performance.now();
    const written = await writeFeedback(records, firstCutoff);
    console.log(
      `bench:retraining: ${written.records} feedback records (${written.messages} distinct test-period messages) written in ${f1((performance.now() - writeStarted) / 1000)} s; ${runs} run(s), each a fresh process; ${os.cpus().length} CPU cores`,
    );

    const results: RunResult[] = [];
    for (let run = 0; run < runs; run++) {
      const r = await runChild(new Date(firstCutoff.getTime() + run * 1000), env);
      results.push(r);
      const steps = Object.entries(r.steps)
        .map(([step, t]) => `${step} ${f2(t.wall)} s`)
        .join(', ');
      console.log(
        `  run ${run + 1}: ${r.outcome} ${r.challenger ?? ''}: total ${f1(r.total.wall)} s wall, ${f1(r.total.cpu)} s CPU (${steps}); load ${loadText(r.load.before)} -> ${loadText(r.load.after)}`,
      );
      if (r.reason) console.log(`         reason: ${r.reason}`);
      if (r.comparison) {
        const verdict = decideGate(r.comparison, appGate);
        const { holdout } = r.comparison;
        console.log(
          `         ${r.feedbackMessages} feedback messages; ${holdout.rows} of ${holdout.heldOut} held-out rows scored (${holdout.championSeen} the champion may have seen)`,
        );
        console.log(`         the app's gate: ${verdict.passed ? 'passed' : 'rejected'}: ${verdict.reasons.join('; ')}`);
      }
      if (r.promotion) console.log(`         the promotion it started (untimed, no gateway here): ${r.promotion}`);
    }

    console.log('median over the runs (wall s / CPU s of the run process):');
    for (const step of [...Object.keys(STEPS), 'total']) {
      const times = results.flatMap((r) => (step === 'total' ? [r.total] : r.steps[step] ? [r.steps[step]] : []));
      if (!times.length) continue;
      const label = step === 'total' ? 'total' : `${STEPS[step]}${times.length < results.length ? ` (${times.length} runs)` : ''}`;
      console.log(
        `  ${label.padEnd(30)} ${f2(median(times.map((t) => t.wall))).padStart(7)} / ${f2(median(times.map((t) => t.cpu))).padStart(7)}`,
      );
    }
    const total = median(results.map((r) => r.total.wall));
    console.log(`floor: a retraining end to end within 120 s: ${total <= 120 ? 'met' : 'NOT MET'} (median ${f1(total)} s)`);
  } catch (err) {
    throw new Error(`bench:retraining: ${errorMessage(err)}`, { cause: err });
  } finally {
    await kube.close();
    await azurite.stop();
    fs.rmSync(location, { recursive: true, force: true });
  }
}

runCli('bench:retraining', main, USAGE);
