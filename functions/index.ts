// The app's bootstrap: options of the Node.js programming model and the hooks that concern the whole worker rather
// than one function. package.json `main` (dist/functions/*.js) loads this file with the functions, and the
// programming model reads these options only once every file is loaded, so the order does not matter.
import { app } from '@azure/functions';
import { ENVIRONMENTS } from '../shared/platform/blobLayout';
import { flushFeedbackWriter } from '../shared/feedback/feedbackWriter';
import { flushInferenceLogger } from '../shared/logs/inferenceLogger';
import { getEnvironmentModel } from '../shared/serving/predict/environmentModels';
import { cancelLocalDriftRuns } from '../shared/drift/driftRuns';
import { sweepTempRoot, tempRoot } from '../shared/platform/tempSpace';

// Buffered HTTP bodies in Azure: the Functions host reads a body (up to its own 100 MB) before calling the worker.
// The handlers read `request.body` as a stream with their limit (shared/platform/http.ts), which the local host
// already feeds live, so turning streaming on changes no handler; it stays off until it has been tried on Flex
// Consumption with the Durable client bindings of the starter functions, which it also changes.
app.setup({ enableHttpStream: false });

// When the worker starts: remove the temporary files workers that were killed or crashed left (a drift run's log
// files, a compaction's work folder; shared/platform/tempSpace.ts), and load both environments' models (ONNX session,
// token table: about a second) rather than on the first request of a new instance; not awaited, and a failure is
// retried by that first request.
app.hook.appStart(() => {
  const swept = sweepTempRoot();
  if (swept.removed.length) {
    console.log(
      `temp: removed ${swept.removed.length} folder(s), ${(swept.bytes / 1048576).toFixed(1)} MB, left in ${tempRoot()} by processes that stopped`,
    );
  }
  for (const env of ENVIRONMENTS) void getEnvironmentModel(env).catch(() => undefined);
});

// The inference logger and the feedback writer buffer records in memory; the host's shutdown (scale-in, deployment,
// Ctrl-C locally) must write them. Drift runs in this process (WORKFLOW_BACKEND=in-process) are cancelled: each
// stops at its next checkpoint and removes its temp files and partial counts, instead of being cut off mid-write.
app.hook.appTerminate(() =>
  Promise.all([flushInferenceLogger(), flushFeedbackWriter(), cancelLocalDriftRuns('the host is stopping')]).then(() => undefined),
);
