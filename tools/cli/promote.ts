// `npm run promote -- <version> [--yes]`: promote a model version from the command line, where no Durable backend
// runs. `npm run promote -- --publish-heldout` uploads the smoke evaluation's held-out mail to Blob once, for the
// Function App, which has no corpus package (training/heldOutCorpus.ts). The same orchestrator and activities as
// the Function App, driven in this process (shared/platform/workflow/inProcessRunner.ts): it needs what the activities need — Blob (AzureWebJobsStorage or the identity settings), the
// Kubernetes API (KUBE_CONNECTION / KUBECONFIG / KUBE_CONTEXT) and the gateway (PROMOTION_GATEWAY_URL). Without
// Kubernetes settings it promotes on the running `npm start` stack: its local Kubernetes API and its gateway.
// After the smoke evaluation it asks for the approval on the terminal (or approves at once with --yes); no answer
// within PROMOTION_APPROVAL_TIMEOUT_S rolls back, as in Azure. Exit code 0 only when promoted.
import os from 'node:os';
import readline from 'node:readline/promises';
import { CONTAINERS, promotionRecordPath } from '../../shared/platform/blobLayout';
import { ensureContainers } from '../../shared/platform/blobStorage';
import { MODEL_NAME } from '../../shared/model/modelArtifacts';
import { registerHeldOutSource } from '../../shared/lifecycle/promotion/heldOutSet';
import { corpusHeldOutSource, publishHeldOutSet } from '../../training/heldOutCorpus';
import { inProcessBackend, localPromotion, startPromotion } from '../../shared/lifecycle/promotion/service';
import { APPROVAL_EVENT } from '../../shared/lifecycle/promotion/types';
import { validateModelVersion } from '../../shared/model/modelVersion';
import { getConfig } from '../../shared/platform/config';
import { connectToLocalStack } from '../devhost/localStack';
import { asUsage, parseCliArgs, runCli, UsageError } from './cliArgs';

const USAGE = `usage: npm run promote -- <version> [--yes]
       npm run promote -- --publish-heldout
  <version>          the model version to promote (staging, smoke evaluation, approval, production)
  --yes              approve at once after the smoke evaluation instead of asking on the terminal
  --publish-heldout  upload the smoke evaluation's held-out mail to Blob (once, for the Function App)`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(
    argv,
    { yes: { type: 'boolean', default: false }, 'publish-heldout': { type: 'boolean', default: false } },
    { positionals: 1 },
  );
  if (values['publish-heldout']) {
    if (positionals.length || values.yes) throw new UsageError('--publish-heldout takes no version and no --yes');
    await ensureContainers([CONTAINERS.models]);
    const published = await publishHeldOutSet(MODEL_NAME);
    console.log(
      `published ${published.messages} held-out messages (${(published.bytes / 1e6).toFixed(1)} MB gzipped) to ${published.blob}`,
    );
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('give the model version to promote');
  const version = asUsage(() => validateModelVersion(positionals[0]));
  const autoApprove = values.yes;
  const stack = connectToLocalStack(getConfig());
  if (stack) console.log(`local stack (pid ${stack.pid}): Kubernetes API ${stack.kubeApiUrl}, gateway ${getConfig().promotionGatewayUrl}`);
  registerHeldOutSource(corpusHeldOutSource());
  const who = `${os.userInfo().username}@${os.hostname()} (cli)`;
  const input = await startPromotion(inProcessBackend(console), version, who);
  const run = localPromotion(input.promotionId)!;
  console.log(`promotion ${input.promotionId} started for ${version}`);

  let asked = false;
  let rl: readline.Interface | undefined;
  const watcher = setInterval(() => {
    const step = (run.getStatus().customStatus as { step?: string } | null)?.step;
    if (step !== 'awaiting approval' || asked) return;
    asked = true;
    if (autoApprove) {
      run.raiseEvent(APPROVAL_EVENT, { approved: true, by: who, at: new Date().toISOString(), comment: '--yes' });
      return;
    }
    rl = readline.createInterface({ input: process.stdin, output: process.stdout });
    void rl.question(`Staging passed. Promote ${version} to production? [y/N] `).then((answer) => {
      rl?.close();
      const approved = /^y(es)?$/i.test(answer.trim());
      run.raiseEvent(APPROVAL_EVENT, { approved, by: who, at: new Date().toISOString() });
    });
  }, 200);
  try {
    const record = await run.done;
    console.log(`${record.outcome}${record.reason ? `: ${record.reason}` : ''}`);
    if (record.smoke)
      console.log(
        `smoke evaluation: ${record.smoke.samples} messages, accuracy ${record.smoke.accuracy.toFixed(4)}, ROC AUC ${record.smoke.rocAuc.toFixed(4)}`,
      );
    console.log(`record: models/${promotionRecordPath(record.model, record.promotionId)}`);
    return record.outcome === 'promoted' ? 0 : 1;
  } finally {
    clearInterval(watcher);
    rl?.close();
  }
}

runCli('promote', main, USAGE);
