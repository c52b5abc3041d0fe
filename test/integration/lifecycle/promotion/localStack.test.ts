// A promotion on the local stack, end to end: `npm start` (a child process, with its local Kubernetes API and V2
// model servers) and `npm run promote -- <version> --yes` (another child process, which finds the stack through
// its stack state) promote a second model version through staging, the smoke evaluation over the gateway,
// approval and production; the production model server then answers with that version.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { CONTAINERS } from '../../../../shared/platform/blobLayout';
import { ensureContainers } from '../../../../shared/platform/blobStorage';
import { MODEL_NAME, publishModel } from '../../../../shared/model/modelArtifacts';
import { startTestAzurite, TestAzurite } from '../../../helpers/azurite';
import { setAppEnv } from '../../../helpers/env';
import { dropFeastProject } from '../../../helpers/feastProject';
import { copyModelAsVersion } from '../../../helpers/gatewayStack';
import { RunningHost, startHostProcess, waitFor } from '../../../helpers/localHost';
import { distPath, REPO_ROOT } from '../../../helpers/paths';

const NEW_VERSION = '1.2.0-local-stack-test';
const feastProject = `local_stack_${randomUUID().slice(0, 8)}`;

let azurite: TestAzurite;
let host: RunningHost;
let restoreEnv: () => void;
let newModel: { dir: string; dispose(): void };

beforeAll(async () => {
  azurite = await startTestAzurite();
  restoreEnv = setAppEnv({ AzureWebJobsStorage: azurite.connectionString });
  host = await startHostProcess({
    env: { AzureWebJobsStorage: azurite.connectionString, FEAST_PROJECT: feastProject, LOCAL_FEAST_SEED: 'true' },
  });
  await waitFor(
    async () => /Feast: \d+ senders of the training period .* \d+ written/.exec(host.output())?.[0],
    60000,
    'the Feast store seeded at start',
  );
  await ensureContainers([CONTAINERS.models]);
  newModel = copyModelAsVersion(NEW_VERSION);
  await publishModel(newModel.dir, undefined, { version: NEW_VERSION });
}, 90000);

afterAll(async () => {
  await dropFeastProject(feastProject);
  await host?.stop();
  restoreEnv?.();
  newModel?.dispose();
  await azurite?.dispose();
});

test('npm run promote -- <version> --yes promotes through the local Kubernetes API into the production server', async () => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AzureWebJobsStorage: azurite.connectionString,
    LOCAL_STACK_DIR: host.stackDir,
    PROMOTION_READY_POLL_MS: '100',
  };
  for (const name of ['KUBECONFIG', 'KUBE_CONNECTION', 'KUBE_CONTEXT', 'PROMOTION_GATEWAY_URL']) delete env[name];
  const { stdout } = await promisify(execFile)(process.execPath, [distPath('tools', 'cli', 'promote.js'), NEW_VERSION, '--yes'], {
    cwd: REPO_ROOT,
    env,
  });
  expect(stdout).toMatch(/^local stack \(pid \d+\): Kubernetes API https:\/\/127\.0\.0\.1:\d+/m);
  expect(stdout).toMatch(/^promoted$/m);
  const production = /KServe production: local V2 model server on (http:\/\/[\d.:]+)/.exec(host.output())![1];
  const metadata = (await (await fetch(`${production}/v2/models/${MODEL_NAME}`)).json()) as { versions: string[] };
  expect(metadata.versions).toEqual([NEW_VERSION]);
}, 180000);
