// `npm start`: the whole system on one machine, on embedded defaults.
//   Azurite (Blob) on 127.0.0.1:10000 with data in .azurite/ (unless AzureWebJobsStorage points elsewhere)
//   one local V2 model server per environment (production 8080, staging 8081), stand-ins for KServe's predictors
//   a Kubernetes API for the two InferenceServices on https://127.0.0.1:6443, whose controller loads a patched
//     storageUri from Blob into the environment's model server; the app's Kubernetes settings point at it
//   the Function App's functions on http://localhost:7071/api (HTTP, timers, blob triggers)
// Ctrl-C (SIGINT) or SIGTERM stops triggers, waits for invocations in flight, flushes buffers (appTerminate hooks),
// then stops the model servers and Azurite; a second one exits at once. The children run in process groups of
// their own, so the terminal's Ctrl-C reaches only this process, and they stop when it dies (tools/devhost/ownedChild.ts);
// a model server that dies is started again (tools/devhost/modelServerSupervisor.ts).
import fs from 'node:fs';
import path from 'node:path';
import { CONTAINERS, Environment } from '../../shared/platform/blobLayout';
import {
  ensureContainers,
  getBlobServiceClient,
  getContainerClient,
  storageAuth,
  storageSettingName,
  storageUnreachable,
} from '../../shared/platform/blobStorage';
import { getConfig, loadConfig, resetConfig, settingDefault } from '../../shared/platform/config';
import { AZURITE_DEFAULT_BLOB_PORT, AzuriteProcess, isPortOpen, startAzurite } from '../devhost/azurite';
import { LocalHost, startLocalHost } from '../devhost/host';
import { loadLocalSettings } from '../devhost/localSettings';
import { consoleLogger, HostLogger } from '../devhost/logging';
import { SupervisedModelServer, superviseModelServer } from '../devhost/modelServerSupervisor';
import { getFeatureStore } from '../../shared/serving/featureStore/featureStore';
import { trainingSenderStats } from '../../training/trainingSenderStats';
import { modelDirFor } from '../../shared/serving/predict/environmentModels';
import { publishCommittedModel } from '../../shared/model/modelArtifacts';
import { projectRoot } from '../../shared/platform/projectRoot';
import { registerHeldOutSource } from '../../shared/lifecycle/promotion/heldOutSet';
import { registerRetrainingTrainer } from '../../shared/lifecycle/retraining/trainer';
import { inProcessTrainer } from '../../training/retrainingTrainer';
import { corpusHeldOutSource } from '../../training/heldOutCorpus';
import { errorMessage } from '../../shared/platform/errors';
import { inferenceServiceName, modelStorageUri, modelsStorageUri } from '../../shared/lifecycle/promotion/activities';
import { ANNOTATIONS } from '../../shared/lifecycle/kubernetes/inferenceService';
import { MODEL_NAME } from '../../shared/model/modelArtifacts';
import { kubeconfigYaml, LocalKubeApi, startLocalKubeApi } from '../devhost/kubeApi';
import { kserveController } from '../devhost/kserveController';
import { kubeconfigFile, removeStackState, stackDir, useKubeconfig, writeKubeconfig, writeStackState } from '../devhost/localStack';

async function seedFeatureStore(hashKey: string): Promise<string> {
  const started = performance.now();
  const stats = await trainingSenderStats(hashKey);
  const written = await getFeatureStore().writeSenderFeatures(stats.rows);
  return (
    `Feast: ${stats.rows.length} senders of the training period (as of ${stats.asOf.toISOString()}) in the online store: ${written} written, ` +
    `${stats.rows.length - written} kept (newer rows) in ${((performance.now() - started) / 1000).toFixed(1)} s`
  );
}

const projectDir = path.resolve(process.argv[2] ?? projectRoot());

/**
 * KServe's control plane for the local model servers: the two InferenceServices, as the manifests in aks/serving/
 * start them (each on the version its server loaded), behind a Kubernetes API whose controller loads a patched
 * storageUri into the environment's server. The app (this process's Functions host, and `npm run promote` through
 * the stack state) reaches it through a kubeconfig in LOCAL_STACK_DIR.
 */
async function startKserveControlPlane(
  servers: ReadonlyArray<{ environment: Environment; server: SupervisedModelServer }>,
  port: number,
  dir: string,
): Promise<{ api: LocalKubeApi; kubeconfig: string }> {
  const config = getConfig();
  const workDir = path.join(dir, 'kserve');
  fs.rmSync(workDir, { recursive: true, force: true });
  const reconcile = kserveController({
    models: getContainerClient(CONTAINERS.models),
    modelsUri: modelsStorageUri(),
    modelName: MODEL_NAME,
    workDir,
    predictors: new Map(servers.map((s) => [inferenceServiceName(s.environment), s.server.url])),
    // A model server started again after a crash must serve what the InferenceService says, not the start-up model.
    loaded: (name, modelDir, version) =>
      servers.find((s) => inferenceServiceName(s.environment) === name)?.server.serving(modelDir, version),
  });
  let api: LocalKubeApi;
  try {
    api = await startLocalKubeApi({ port, reconcile });
  } catch (err) {
    // As for the model servers: the kubeconfig names whichever port is in use.
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    api = await startLocalKubeApi({ port: 0, reconcile });
  }
  for (const { environment, server } of servers) {
    api.addInferenceService({
      name: inferenceServiceName(environment),
      namespace: config.kserveNamespace,
      storageUri: modelStorageUri(MODEL_NAME, server.version),
      ...(environment === 'production' ? { minReplicas: 2, maxReplicas: 10 } : {}),
      annotations: { [ANNOTATIONS.modelVersion]: server.version },
    });
  }
  const kubeconfig = writeKubeconfig(dir, kubeconfigYaml(api.url, api.caData, { namespace: config.kserveNamespace }));
  return { api, kubeconfig };
}

/** What runs, filled in as it starts; a stop stops what there is, the Functions host first. */
interface LocalStack {
  host?: LocalHost;
  kubeApi?: LocalKubeApi;
  stackDir?: string;
  modelServers: Array<{ environment: Environment; server: SupervisedModelServer }>;
  azurite?: AzuriteProcess;
}

/** Longest a stop may take (a flush to a Blob service that does not answer retries until then). */
const STOP_TIMEOUT_MS = 30_000;
/**
 * Under `npm start` one Ctrl-C arrives twice: the terminal signals the foreground process group, and npm forwards
 * the SIGINT it got to its child. A signal this soon after the first is that echo, not a second Ctrl-C.
 */
const SAME_SIGNAL_MS = 1000;

/** When the first SIGINT or SIGTERM arrived. */
let stoppingSince: number | undefined;

/**
 * SIGINT (Ctrl-C) and SIGTERM: the host stops its triggers, waits for invocations in flight and flushes (the
 * appTerminate hooks), while the model servers and Azurite still run for them; then those stop. A second signal
 * exits at once; the children then stop by themselves as their channel to this process closes.
 */
function stopOnSignals(stack: LocalStack, logger: HostLogger): void {
  const stop = async (signal: NodeJS.Signals) => {
    const started = performance.now();
    logger.info(
      `${signal}: stopping (waiting for invocations in flight, then flushing the inference log and feedback); again to exit at once`,
    );
    setTimeout(() => {
      logger.error(`Stopping took longer than ${STOP_TIMEOUT_MS / 1000} s; exiting`);
      process.exit(1);
    }, STOP_TIMEOUT_MS).unref();
    try {
      await stack.host?.stop();
      await stack.kubeApi?.close();
      if (stack.stackDir) removeStackState(stack.stackDir);
      await Promise.all(stack.modelServers.map((m) => m.server.stop()));
      await stack.azurite?.stop();
      logger.info(`Stopped in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      process.exit(0);
    } catch (err) {
      logger.error('Stopping failed', err);
      process.exit(1);
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppingSince === undefined) {
      stoppingSince = performance.now();
      void stop(signal);
      return;
    }
    if (performance.now() - stoppingSince < SAME_SIGNAL_MS) return;
    logger.warn(`${signal} again: exiting without waiting (buffered records not yet written are lost)`);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

async function main(): Promise<void> {
  const started = performance.now();
  // Debug lines follow LOCAL_HOST_VERBOSE once the settings are loaded (local.settings.json may set it).
  let verbose = false;
  const logger = consoleLogger({ verbose: () => verbose });
  // From the start: a stop during start-up stops what has started so far.
  const stack: LocalStack = { modelServers: [] };
  stopOnSignals(stack, logger);
  logger.info(`Node ${process.version}, project ${projectDir}`);
  const settingsFile = loadLocalSettings(projectDir);
  logger.info(settingsFile ? `Settings from ${settingsFile} and the environment` : 'Settings from the environment and embedded defaults');
  loadConfig(); // every setting now, so a bad value stops the start with its name
  const config = getConfig();
  verbose = config.localHostVerbose;
  // The smoke evaluation of a local promotion reads the held-out mail straight from the corpus package.
  registerHeldOutSource(corpusHeldOutSource());
  registerRetrainingTrainer(inProcessTrainer());

  if (storageAuth(config).kind === 'connectionString' && config.storageConnectionString === 'UseDevelopmentStorage=true') {
    if (await isPortOpen(AZURITE_DEFAULT_BLOB_PORT)) {
      logger.info(`Blob: something already listens on 127.0.0.1:${AZURITE_DEFAULT_BLOB_PORT}; using it as Azurite`);
    } else {
      stack.azurite = await startAzurite({ port: AZURITE_DEFAULT_BLOB_PORT, location: path.join(projectDir, '.azurite') });
      logger.info(`Blob: Azurite on http://127.0.0.1:${stack.azurite.port} (data in .azurite/, pid ${stack.azurite.pid})`);
    }
  } else {
    logger.info(`Blob: ${storageAuth(config).kind === 'identity' ? 'identity-based connection' : 'connection string from settings'}`);
  }
  // The first call to storage: a wrong or unreachable endpoint must name the setting to fix, not just an address.
  await ensureContainers(Object.values(CONTAINERS)).catch((err: unknown) => {
    const unreachable = storageUnreachable(err, config);
    throw new Error(`${unreachable?.message ?? `Blob storage (setting ${storageSettingName(config)}) failed`}: ${errorMessage(err)}`, {
      cause: err,
    });
  });
  // As a deployment would: the committed model and its baseline go to Blob when missing (the baseline write is the
  // event that activates it, so drift detection works on a fresh machine).
  await publishCommittedModel((line) => logger.info(line));

  // Stand-ins for KServe: one V2 model server per environment, each serving that environment's model directory.
  const modelServers = stack.modelServers;
  if (config.localModelServers) {
    const servers = [
      { environment: 'production' as const, port: config.localKserveProductionPort, urlSetting: 'KSERVE_PRODUCTION_URL' },
      { environment: 'staging' as const, port: config.localKserveStagingPort, urlSetting: 'KSERVE_STAGING_URL' },
    ];
    await Promise.all(
      servers.map(async (s) => {
        const modelDir = modelDirFor(s.environment);
        const explicitUrl = process.env[s.urlSetting];
        let server: SupervisedModelServer;
        try {
          server = await superviseModelServer({ port: s.port, modelDir, environment: s.environment, logger });
        } catch (err) {
          // The default port is taken (another local stack, a parallel test run): when the gateway's URL is ours to
          // choose, any free port will do.
          if (explicitUrl) throw err;
          server = await superviseModelServer({ port: 0, modelDir, environment: s.environment, logger });
        }
        modelServers.push({ environment: s.environment, server });
        if (!explicitUrl) process.env[s.urlSetting] = server.url;
        const note =
          explicitUrl && new URL(explicitUrl).port !== String(server.port)
            ? ` (${s.urlSetting} is ${explicitUrl}: the gateway will not use it)`
            : '';
        logger.info(
          `KServe ${s.environment}: local V2 model server on ${server.url}, model version ${server.version}, pid ${server.pid}${note}`,
        );
      }),
    );
    resetConfig(); // KSERVE_*_URL may now name the servers' actual ports
  } else {
    logger.info(`KServe: production ${config.kserveProductionUrl}, staging ${config.kserveStagingUrl} (LOCAL_MODEL_SERVERS=false)`);
  }
  const dir = stackDir(config);
  let kubeApi: LocalKubeApi | undefined;
  if (config.localKubeApi && modelServers.length) {
    const started = await startKserveControlPlane(modelServers, config.localKubeApiPort, dir);
    kubeApi = stack.kubeApi = started.api;
    stack.stackDir = dir;
    process.once('exit', () => removeStackState(dir));
    useKubeconfig(started.kubeconfig);
    logger.info(
      `Kubernetes: local API on ${kubeApi.url} (kubeconfig ${started.kubeconfig}), ` +
        `InferenceServices ${config.kserveNamespace}/${config.kserveProductionName} and ${config.kserveStagingName}; a storageUri patch loads that version from Blob`,
    );
  } else {
    logger.info(
      `Kubernetes: ${config.localKubeApi ? 'no local API without the local model servers' : 'LOCAL_KUBE_API=false'}; ` +
        `KUBE_CONNECTION=${config.kubeConnection}${config.kubeconfigPath ? `, KUBECONFIG=${config.kubeconfigPath}` : ''}`,
    );
  }
  // A request waits at most FEAST_TIMEOUT_MS for Redis; the first connection at start-up may take longer.
  const redis = await getFeatureStore().ping(2000);
  logger.info(
    redis.status === 'ok'
      ? `Redis (Feast online store, project ${config.feastProject}): available`
      : `Redis (Feast online store): NOT available (${redis.detail}); predictions use the unknown-sender defaults and say degraded: true`,
  );
  // As a deployment's first `features:materialize` would: the store the committed model was evaluated with. In the
  // background (parsing the training period takes seconds); until it is written, senders read as unknown.
  if (config.localFeastSeed) {
    const notWritten = (why: string) =>
      `Feast: sender statistics not written (${why}); senders read as unknown until \`npm run features:materialize\``;
    if (redis.status !== 'ok') logger.warn(notWritten('Redis is not available'));
    else
      void seedFeatureStore(config.senderHashKey).then(
        (line) => logger.info(line),
        (err) => logger.warn(notWritten(errorMessage(err))),
      );
  }

  const host = (stack.host = await startLocalHost({
    projectDir,
    port: config.localHostPort,
    blobService: getBlobServiceClient(),
    blobPollIntervalMs: config.blobPollIntervalMs,
    appSetting: (name) => process.env[name] ?? settingDefault(name),
    logger,
  }));
  if (kubeApi) {
    // The smoke evaluation of a promotion calls this host, on whatever port it got.
    process.env.PROMOTION_GATEWAY_URL ??= host.url;
    resetConfig();
    writeStackState(dir, {
      pid: process.pid,
      gatewayUrl: getConfig().promotionGatewayUrl,
      kubeconfig: kubeconfigFile(dir),
      kubeApiUrl: kubeApi.url,
    });
  }
  logger.info(`Host listening on ${host.url} (ready in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  logger.info(`Try: curl ${host.url}/health`);
}

main().catch((err) => {
  // A stop during start-up takes away what the start-up still needs (Azurite, say): that failure is the stop's.
  if (stoppingSince !== undefined) return;
  console.error(`Local host failed to start: ${errorMessage(err)}`);
  process.exit(1);
});
