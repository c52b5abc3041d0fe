// `npm run replay -- --feedback`: the prequential replay, the honest score of a system that learns. Every message of
// the time-forward test period is scored once, in mail-time order, by the model the system served at that moment;
// labels reach the system only as users' feedback, a delay after each message; and the real retraining
// orchestration runs once a week of mail time (or a day), with that moment as its cut-off, its gate, and
// (auto-approved) the real promotion through staging, the smoke evaluation and production.
//
//   1. Starts a stack of its own: Azurite on a free port with a fresh data folder, and `npm start`'s host over it
//      (local V2 model servers, the local Kubernetes API, a Feast project of its own). A replay registers and
//      promotes models, so it must not run on the user's stack, where an earlier replay's versions would also collide.
//      The Feast project holds the training period's sender statistics as of its end, as for the static model.
//   2. The static pass: the whole test period through /api/predict, before anything is retrained: the model that
//      never learns, side by side.
//   3. The loop pass, every `--retrain-every-days` of mail time: retrain (from the second step on) with the cut-off
//      at the step's start and wait for the retraining and its promotion; send the step's mail through /api/predict
//      (production); queue the feedback of a share of it, each labelled `--feedback-delay-hours` after the message.
//      Then each week's window of the log gets a drift check against the baseline of the version that served it.
//   4. Prints the week-by-week table and the totals, both passes; `--json FILE` writes them for other tools.
//
// Figures are at the threshold each answer was given with (the served model's own), pooled over all answers.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Environment } from '../../shared/platform/blobLayout';
import { getConfig, resetConfig } from '../../shared/platform/config';
import { resetBlobServiceClient } from '../../shared/platform/blobStorage';
import { errorMessage } from '../../shared/platform/errors';
import { FeatureStore } from '../../shared/serving/featureStore/featureStore';
import { readFeedback } from '../../shared/feedback/feedbackStore';
import { rocAuc } from '../../shared/model/metrics';
import { COMMITTED_MODEL_VERSION, MODEL_NAME } from '../../shared/model/modelArtifacts';
import { runDriftInProcess } from '../../shared/drift/orchestration';
import { CorpusMessage, loadCorpus, timeForwardSplit } from '../../training/corpus';
import { freePort, startAzurite } from '../devhost/azurite';
import { parseChoice, parseCliArgs, parseInteger, parseNumber, UsageError } from './cliArgs';
import { ensureCommittedBaselineActive, ReplaySenderStore, sleep, startStack, waitForLoggedRows } from './replayStack';

const DAY_MS = 24 * 3600_000;
/** The drift check's own lines (its alert text among them) would bury the table; its status is in the table. */
const QUIET = { log: () => undefined, warn: () => undefined, error: (...args: unknown[]) => console.error(...args) };
const ENV: Environment = 'production';
/** The feedback API's batch limit (FEEDBACK_MAX_BATCH default). */
const FEEDBACK_BATCH = 64;

export const PREQUENTIAL_USAGE = `usage: npm run replay -- --feedback [options]
  --feedback-share <F>        share of the messages whose feedback is posted, more than 0 and at most 1 (default 1)
  --feedback-delay-hours <H>  mail time between a message and its feedback, 0 to 720 (default 24)
  --retrain-every-days 1|7    mail time between retrainings: a week, or a day (default 7)
  --batch <N>                 messages per /api/predict request, 1 to 64 (default 32)
  --json <file>               also write the result as JSON
  --weeks <N>                 only the first N weeks of the test period (quick runs; default all)`;

/** Figures at the served threshold over a set of answers. */
export interface PeriodFigures {
  rows: number;
  /** null when the rows hold one class only. */
  auc: number | null;
  ham_fpr: number | null;
  spam_recall: number | null;
}

export interface RetrainingSummary {
  id: string;
  cutoff?: string;
  outcome: string;
  challenger?: string;
  reason?: string;
  feedback?: number;
}

export interface ReplayWeek extends PeriodFigures {
  start: string;
  served_version: string;
  drift_status: string;
  /** The first retraining whose cut-off lies in the week (the one at its start, when retraining is weekly). */
  retraining?: RetrainingSummary;
  /** Every retraining whose cut-off lies in the week. */
  retrainings?: RetrainingSummary[];
  static: PeriodFigures;
}

export interface PrequentialResult {
  feedback_share: number;
  feedback_delay_hours: number;
  retrain_every_days: number;
  weeks: ReplayWeek[];
  loop: Omit<PeriodFigures, 'rows'> & { rows: number; ham_fpr_from_week3: number | null };
  static: Omit<PeriodFigures, 'rows'> & { rows: number; ham_fpr_from_week3: number | null };
}

interface Answer {
  p: number;
  spam: boolean;
  flagged: boolean;
  version: string;
}

const round4 = (v: number | null) => (v === null || !Number.isFinite(v) ? null : Math.round(v * 1e4) / 1e4);

export function periodFigures(answers: readonly Answer[]): PeriodFigures {
  let tp = 0;
  let fp = 0;
  let spam = 0;
  for (const a of answers) {
    if (a.spam) spam++;
    if (a.spam && a.flagged) tp++;
    if (!a.spam && a.flagged) fp++;
  }
  const ham = answers.length - spam;
  return {
    rows: answers.length,
    auc:
      spam && ham
        ? round4(
            rocAuc(
              answers.map((a) => a.p),
              answers.map((a) => (a.spam ? 1 : 0)),
            ),
          )
        : null,
    ham_fpr: ham ? round4(fp / ham) : null,
    spam_recall: spam ? round4(tp / spam) : null,
  };
}

/** Whether a message's feedback is posted: a fixed hash of its id, so a share's set is the same in every run. */
export function inFeedbackShare(id: string, share: number): boolean {
  if (share >= 1) return true;
  const h = createHash('sha256').update(id).digest().readUInt32BE(0);
  return h / 2 ** 32 < share;
}

/** Consecutive periods of `days` from the UTC midnight of the first message; every message in exactly one. */
export function mailPeriods(messages: readonly CorpusMessage[], days: number): { start: Date; messages: CorpusMessage[] }[] {
  const first = messages[0].receivedAt!.getTime();
  const origin = first - (first % DAY_MS);
  const periods: { start: Date; messages: CorpusMessage[] }[] = [];
  for (const m of messages) {
    const k = Math.floor((m.receivedAt!.getTime() - origin) / (days * DAY_MS));
    while (periods.length <= k) periods.push({ start: new Date(origin + periods.length * days * DAY_MS), messages: [] });
    periods[k].messages.push(m);
  }
  return periods.filter((p) => p.messages.length > 0);
}

interface PredictAnswer {
  results: { prediction: string; probability: number; model: { version: string } }[];
}

async function postJson(url: string, body: unknown): Promise<{ status: number; headers: Headers; json: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-environment': ENV },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: await res.json().catch(() => null) };
}

/**
 * GET with retries on network errors and timeouts for up to 15 minutes: the in-process trainer holds the host's event
 * loop for as long as a training takes, and a kept-alive connection the host closed meanwhile fails the next request.
 */
async function getJson(url: string): Promise<unknown> {
  // A whole training can hold the loop (minutes on a loaded machine); the run goes on meanwhile, so keep asking.
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(500);
      continue;
    }
    const json: unknown = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`GET ${url} answered ${res.status}: ${JSON.stringify(json).slice(0, 300)}`);
    return json;
  }
}

/** Score `messages` through /api/predict in order; each answer, and the request id of each message. */
async function predictAll(
  api: string,
  messages: readonly CorpusMessage[],
  batch: number,
): Promise<{ answers: Answer[]; requestIds: string[] }> {
  const answers: Answer[] = [];
  const requestIds: string[] = [];
  for (let i = 0; i < messages.length; i += batch) {
    const chunk = messages.slice(i, i + batch);
    // The exact bytes (base64): 8-bit mail in other charsets cannot travel in a JSON string.
    const instances = chunk.map((m) => ({ raw: m.raw.toString('base64'), encoding: 'base64' }));
    const res = await postJson(`${api}/predict`, { instances });
    const body = res.json as PredictAnswer & { error?: { message: string } };
    if (res.status !== 200)
      throw new Error(`/api/predict answered ${res.status}: ${body?.error?.message ?? JSON.stringify(body).slice(0, 200)}`);
    const results = body.results;
    if (results?.length !== chunk.length) throw new Error(`/api/predict returned ${results?.length} results for ${chunk.length} instances`);
    const requestId = res.headers.get('x-request-id') ?? '';
    chunk.forEach((m, j) => {
      const r = results[j];
      answers.push({ p: r.probability, spam: m.spam, flagged: r.prediction === 'spam', version: r.model.version });
      // As the inference log names them: a batch of one is logged under the request's own id.
      requestIds.push(chunk.length > 1 ? `${requestId}#${j}` : requestId);
    });
  }
  return { answers, requestIds };
}

interface PendingFeedback {
  message: CorpusMessage;
  requestId: string;
  labelledAt: Date;
}

async function postFeedback(api: string, items: readonly PendingFeedback[]): Promise<void> {
  for (let i = 0; i < items.length; i += FEEDBACK_BATCH) {
    const instances = items.slice(i, i + FEEDBACK_BATCH).map((f) => ({
      label: f.message.spam ? 'spam' : 'ham',
      request_id: f.requestId,
      labelled_at: f.labelledAt.toISOString(),
      email: { raw: f.message.raw.toString('base64'), encoding: 'base64' },
    }));
    const res = await postJson(`${api}/feedback`, { instances });
    if (res.status !== 200) throw new Error(`/api/feedback answered ${res.status}: ${JSON.stringify(res.json).slice(0, 300)}`);
  }
}

interface RetrainingStatusBody {
  runtimeStatus: string;
  step?: { step?: string; outcome?: string };
  record?: {
    outcome: string;
    reason?: string;
    challenger?: string;
    promotionId?: string;
    feedback?: { messages: number };
    gate?: { reasons: string[] };
  };
}

interface PromotionStatusBody {
  runtimeStatus: string;
  step?: { step?: string };
  record?: { outcome: string; reason?: string };
}

/** Start the retraining with this cut-off (auto-approved), and wait for it and for the promotion it starts. */
async function retrain(api: string, cutoff: Date, print: (line: string) => void): Promise<RetrainingSummary> {
  const started = await postJson(`${api}/models/retrain`, {
    cutoff: cutoff.toISOString(),
    autoApprove: true,
    requestedBy: 'prequential replay',
  });
  if (started.status !== 202)
    throw new Error(`/api/models/retrain answered ${started.status}: ${JSON.stringify(started.json).slice(0, 300)}`);
  const { id } = started.json as { id: string };
  let lastStep = '';
  let status: RetrainingStatusBody;
  for (;;) {
    status = (await getJson(`${api}/retrainings/${id}`)) as RetrainingStatusBody;
    const step = status.step?.step ?? status.runtimeStatus;
    if (step !== lastStep) print(`    retraining ${id}: ${step}`);
    lastStep = step;
    if (status.record) break;
    await sleep(500);
  }
  const record = status.record;
  const result = {
    id,
    outcome: record.outcome,
    ...(record.challenger ? { challenger: record.challenger } : {}),
    ...(record.reason || record.outcome === 'rejected' ? { reason: record.reason ?? record.gate?.reasons.join('; ') } : {}),
    ...(record.feedback ? { feedback: record.feedback.messages } : {}),
  };
  if (!record.promotionId) return result;
  lastStep = '';
  let promotion: PromotionStatusBody;
  for (;;) {
    promotion = (await getJson(`${api}/promotions/${record.promotionId}`)) as PromotionStatusBody;
    const step = promotion.step?.step ?? promotion.runtimeStatus;
    if (step !== lastStep) print(`    promotion ${record.promotionId}: ${step}`);
    lastStep = step;
    if (promotion.record) break;
    await sleep(500);
  }
  const outcome = `promotion ${promotion.record.outcome}`;
  return { ...result, outcome, ...(promotion.record.reason ? { reason: promotion.record.reason } : {}) };
}

/** Wait until every posted feedback labelled before `cutoff` is in Blob (the writer flushes every FEEDBACK_FLUSH_INTERVAL_MS). */
async function waitForFeedback(cutoff: Date, expected: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  let stored = (await readFeedback({ until: cutoff })).length;
  while (stored < expected && Date.now() < deadline) {
    await sleep(250);
    stored = (await readFeedback({ until: cutoff })).length;
  }
  if (stored < expected)
    throw new Error(`only ${stored} of ${expected} feedback records labelled before ${cutoff.toISOString()} reached Blob in 60 s`);
  return stored;
}

function mostServed(answers: readonly Answer[]): string {
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a.version, (counts.get(a.version) ?? 0) + 1);
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  return sorted.map(([v]) => v).join('+');
}

const fmt = (v: number | null, digits = 4) => (v === null ? '—' : v.toFixed(digits));
const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(2)} %`);

function retrainingCell(week: ReplayWeek): string {
  const all = week.retrainings ?? [];
  if (all.length === 1) {
    const r = all[0];
    return `${r.outcome}${r.feedback !== undefined ? ` (${r.feedback} feedback)` : ''}${r.reason ? `: ${r.reason}` : ''}`;
  }
  if (!all.length) return '—';
  const counts = new Map<string, number>();
  for (const r of all) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
  return `${all.length} retrainings: ${[...counts].map(([outcome, n]) => `${n} ${outcome}`).join(', ')}`;
}

export function formatResult(result: PrequentialResult): string {
  const lines: string[] = [];
  const header = [
    'week of',
    'rows',
    'served version',
    'ROC AUC',
    'ham FPR',
    'recall',
    'drift',
    '| static AUC',
    'ham FPR',
    'recall',
    '| retraining (cut-off in the week)',
  ];
  const rows = result.weeks.map((w) => [
    w.start.slice(0, 10),
    String(w.rows),
    w.served_version,
    fmt(w.auc),
    pct(w.ham_fpr),
    fmt(w.spam_recall),
    w.drift_status,
    `| ${fmt(w.static.auc)}`,
    pct(w.static.ham_fpr),
    fmt(w.static.spam_recall),
    `| ${retrainingCell(w)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  lines.push(line(header));
  for (const r of rows) lines.push(line(r));
  lines.push('');
  const total = (name: string, t: PrequentialResult['loop']) =>
    `${name.padEnd(28)} rows ${t.rows}  ROC AUC ${fmt(t.auc)}  ham FPR ${pct(t.ham_fpr)} (from week 3: ${pct(t.ham_fpr_from_week3)})  spam recall ${fmt(t.spam_recall)}`;
  lines.push(total(`loop (feedback ${Math.round(result.feedback_share * 100)} %)`, result.loop));
  lines.push(total('static (never retrained)', result.static));
  return lines.join('\n');
}

export async function runPrequentialReplay(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(argv, {
    'feedback-share': { type: 'string', default: '1' },
    'feedback-delay-hours': { type: 'string', default: '24' },
    'retrain-every-days': { type: 'string', default: '7' },
    batch: { type: 'string', default: '32' },
    json: { type: 'string' },
    weeks: { type: 'string' },
  });
  const share = parseNumber('feedback-share', values['feedback-share'], { min: 0, max: 1 });
  if (share === 0) throw new UsageError('--feedback-share must be more than 0 (with no feedback nothing can be retrained)');
  const delayHours = parseNumber('feedback-delay-hours', values['feedback-delay-hours'], { min: 0, max: 720 });
  const everyDays = Number(parseChoice('retrain-every-days', values['retrain-every-days'], ['1', '7'] as const));
  const batch = parseInteger('batch', values.batch, { min: 1, max: 64 });
  const maxWeeks = values.weeks === undefined ? Infinity : parseInteger('weeks', values.weeks, { min: 1, max: 1000 });
  const print = (line: string) => console.log(line);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'prequential-replay-'));
  const azurite = await startAzurite({ port: await freePort(), location: path.join(work, 'azurite') });
  // This process reads the same Blob (feedback flushed, logs written, the drift check run here); the drift check run
  // here must not start a retraining of its own: the replay decides when to retrain.
  Object.assign(process.env, { AzureWebJobsStorage: azurite.connectionString, RETRAIN_ON_CRITICAL_DRIFT: 'false' });
  resetConfig();
  resetBlobServiceClient();
  const config = getConfig();
  const feastProject = `prequential_${process.pid}`;
  const senderStore = new ReplaySenderStore(
    new FeatureStore({ url: config.redisUrl, project: feastProject, timeoutMs: config.feastTimeoutMs }),
    config.senderHashKey,
  );
  let stack: Awaited<ReturnType<typeof startStack>> | undefined;
  const cleanUp = async () => {
    await senderStore.close();
    await stack?.stop();
    await azurite.stop();
    fs.rmSync(work, { recursive: true, force: true });
  };
  // Interrupted, it still stops the stack and Azurite it started and removes their data.
  const onSignal = (signal: NodeJS.Signals) => {
    print(`${signal}: stopping the replay's stack`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    print(`starting a local stack of its own (Azurite on ${azurite.port}, data in ${work})`);
    stack = await startStack({
      AzureWebJobsStorage: azurite.connectionString,
      LOCAL_KSERVE_PRODUCTION_PORT: '0',
      LOCAL_KSERVE_STAGING_PORT: '0',
      LOCAL_KUBE_API_PORT: '0',
      LOCAL_STACK_DIR: path.join(work, 'stack'),
      FEAST_PROJECT: feastProject,
      LOCAL_FEAST_SEED: 'false',
      FEEDBACK_FLUSH_INTERVAL_MS: '250',
      LOG_FLUSH_INTERVAL_MS: '1000',
      PROMOTION_READY_POLL_MS: '200',
      RETRAIN_TIMER_ENABLED: 'false',
      RETRAIN_ON_CRITICAL_DRIFT: 'false',
    });
    const api = stack.url;
    print(`stack: ${api}`);
    print(await senderStore.serve('training-end'));
    await ensureCommittedBaselineActive(COMMITTED_MODEL_VERSION, print);

    const test = timeForwardSplit(loadCorpus()).test.filter((m) => m.receivedAt);
    const weeks = mailPeriods(test, 7).slice(0, maxWeeks);
    const messages = weeks.flatMap((w) => w.messages);
    // The retraining moments: every `everyDays` from the same midnight as the weeks (1 or 7, so none straddles a week).
    const steps = mailPeriods(messages, everyDays);
    print(
      `test period: ${messages.length} messages, ${messages[0].receivedAt!.toISOString().slice(0, 10)} to ${messages.at(-1)!.receivedAt!.toISOString().slice(0, 10)}, ${weeks.length} weeks; retraining every ${everyDays} day(s) of mail time; feedback for ${Math.round(share * 100)} %, ${delayHours} h after each message`,
    );

    print('static pass: the committed model on the whole test period, nothing retrained');
    const staticPass = await predictAll(api, messages, batch);
    const staticVersions = new Set(staticPass.answers.map((a) => a.version));
    if (staticVersions.size !== 1 || !staticVersions.has(COMMITTED_MODEL_VERSION))
      throw new Error(`the static pass was answered by ${[...staticVersions].join(', ')}, not ${COMMITTED_MODEL_VERSION} alone`);
    const staticAnswers = new Map(messages.map((m, i) => [m.id, staticPass.answers[i]]));

    print(`loop pass: retraining on the feedback every ${everyDays} day(s), auto-approved promotion`);
    const loopAnswers = new Map<string, Answer>();
    const retrainings: (RetrainingSummary & { cutoff: string })[] = [];
    const windows: { start: Date; end: Date }[] = [];
    const pending: PendingFeedback[] = [];
    let posted = 0;
    for (const [k, step] of steps.entries()) {
      const stepStarted = Date.now();
      // Weeks without mail are not in `weeks`: the step's week is found by its start, not counted from the first.
      const week = weeks.findIndex((w) => step.start.getTime() < w.start.getTime() + 7 * DAY_MS);
      print(`${step.start.toISOString().slice(0, 10)} (week ${week + 1}/${weeks.length}): ${step.messages.length} messages`);
      if (k > 0) {
        // What users had labelled by the cut-off is posted and in Blob before the retraining reads it.
        const due = pending.filter((f) => f.labelledAt < step.start);
        await postFeedback(api, due);
        posted += due.length;
        pending.splice(0, pending.length, ...pending.filter((f) => f.labelledAt >= step.start));
        await waitForFeedback(step.start, posted);
        let retraining: RetrainingSummary;
        try {
          retraining = await retrain(api, step.start, (line) => print(line));
        } catch (err) {
          retraining = { id: '', outcome: 'error', reason: errorMessage(err) };
        }
        retrainings.push({ ...retraining, cutoff: step.start.toISOString() });
        print(`  retraining: ${retraining.outcome}${retraining.reason ? ` (${retraining.reason})` : ''}`);
      }
      const start = new Date();
      const { answers, requestIds } = await predictAll(api, step.messages, batch);
      windows[week] = { start: windows[week]?.start ?? start, end: new Date(Date.now() + 1) };
      step.messages.forEach((m, i) => {
        loopAnswers.set(m.id, answers[i]);
        if (inFeedbackShare(m.id, share))
          pending.push({ message: m, requestId: requestIds[i], labelledAt: new Date(m.receivedAt!.getTime() + delayHours * 3600_000) });
      });
      const figures = periodFigures(answers);
      print(
        `  served ${mostServed(answers)}: ham FPR ${pct(figures.ham_fpr)}, spam recall ${fmt(figures.spam_recall)} [${((Date.now() - stepStarted) / 1000).toFixed(0)} s]`,
      );
    }

    const weekRows: (ReplayWeek & { answers: Answer[]; staticAnswers: Answer[] })[] = [];
    for (const [k, week] of weeks.entries()) {
      const answers = week.messages.map((m) => loopAnswers.get(m.id)!);
      const servedVersion = mostServed(answers);
      let driftStatus = 'unknown';
      try {
        const { start, end } = windows[k];
        await waitForLoggedRows(ENV, start, end, answers.length, 60_000);
        // Against the baseline of the version that served most of the week; the check reads that version's rows.
        const summary = await runDriftInProcess(
          {
            env: ENV,
            modelName: MODEL_NAME,
            modelVersion: servedVersion.split('+')[0],
            windowStart: start.toISOString(),
            windowEnd: end.toISOString(),
            windowHours: config.driftWindowHours,
            trigger: 'replay',
            runId: `prequential-${process.pid}-week${k + 1}`,
          },
          { logger: QUIET },
        );
        driftStatus = summary.status;
      } catch (err) {
        driftStatus = 'failed';
        print(`  drift check of week ${k + 1} failed: ${errorMessage(err)}`);
      }
      const weekEnd = week.start.getTime() + 7 * DAY_MS;
      const before = retrainings.filter((r) => Date.parse(r.cutoff) >= week.start.getTime() && Date.parse(r.cutoff) < weekEnd);
      const staticWeek = week.messages.map((m) => staticAnswers.get(m.id)!);
      weekRows.push({
        start: week.start.toISOString(),
        ...periodFigures(answers),
        served_version: servedVersion,
        drift_status: driftStatus,
        ...(before.length ? { retraining: before[0], retrainings: before } : {}),
        static: periodFigures(staticWeek),
        answers,
        staticAnswers: staticWeek,
      });
    }

    const totals = (pick: (w: (typeof weekRows)[number]) => Answer[]) => ({
      ...periodFigures(weekRows.flatMap(pick)),
      ham_fpr_from_week3: periodFigures(weekRows.slice(2).flatMap(pick)).ham_fpr,
    });
    const result: PrequentialResult = {
      feedback_share: share,
      feedback_delay_hours: delayHours,
      retrain_every_days: everyDays,
      weeks: weekRows.map(({ answers: _a, staticAnswers: _s, ...w }) => w),
      loop: totals((w) => w.answers),
      static: totals((w) => w.staticAnswers),
    };
    print('');
    print(formatResult(result));
    if (values.json) {
      fs.mkdirSync(path.dirname(path.resolve(values.json)), { recursive: true });
      fs.writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
      print(`\nwritten: ${values.json}`);
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await cleanUp();
  }
}
