// `npm start`: the whole system on one machine, on embedded defaults.
//   Azurite (Blob) on 127.0.0.1:10000 with data in .azurite/ (unless AzureWebJobsStorage points elsewhere)
//   one local V2 model server per environment (production 8080, staging 8081), stand-ins for KServe's predictors
//   a Kubernetes API for the two InferenceServices on https://127.0.0.1:6443, whose controller loads a patched
//     storageUri from Blob into the environment's model server; the app's Kubernetes settings point at it
//   the Function App's functions on http://localhost:7071/api (HTTP, timers, blob triggers)
// Ctrl-C stops triggers, waits for invocations in flight, flushes buffers (appTerminate hooks) and stops Azurite.
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
import { startLocalHost } from '../devhost/host';
import { loadLocalSettings } from '../devhost/localSettings';
import { consoleLogger } from '../devhost/logging';
import { ModelServerProcess, startModelServerProcess } from '../devhost/modelServer';
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
  servers: ReadonlyArray<{ environment: Environment; server: ModelServerProcess }>,
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

async function main(): Promise<void> {
  const started = performance.now();
  // Debug lines follow LOCAL_HOST_VERBOSE once the settings are loaded (local.settings.json may set it).
  let verbose = false;
  const logger = consoleLogger({ verbose: () => verbose });
  logger.info(`Node ${process.version}, project ${projectDir}`);
  const settingsFile = loadLocalSettings(projectDir);
  logger.info(settingsFile ? `Settings from ${settingsFile} and the environment` : 'Settings from the environment and embedded defaults');
  loadConfig(); // every setting now, so a bad value stops the start with its name
  const config = getConfig();
  verbose = config.localHostVerbose;
  // The smoke evaluation of a local promotion reads the held-out mail straight from the corpus package.
  registerHeldOutSource(corpusHeldOutSource());
  registerRetrainingTrainer(inProcessTrainer());

  let azurite: AzuriteProcess | undefined;
  process.once('exit', () => azurite?.kill());
  if (storageAuth(config).kind === 'connectionString' && config.storageConnectionString === 'UseDevelopmentStorage=true') {
    if (await isPortOpen(AZURITE_DEFAULT_BLOB_PORT)) {
      logger.info(`Blob: something already listens on 127.0.0.1:${AZURITE_DEFAULT_BLOB_PORT}; using it as Azurite`);
    } else {
      azurite = await startAzurite({ port: AZURITE_DEFAULT_BLOB_PORT, location: path.join(projectDir, '.azurite') });
      logger.info(`Blob: Azurite on http://127.0.0.1:${azurite.port} (data in .azurite/)`);
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
  const modelServers: Array<{ environment: Environment; server: ModelServerProcess }> = [];
  process.once('exit', () => modelServers.forEach((m) => m.server.kill()));
  if (config.localModelServers) {
    const servers = [
      { environment: 'production' as const, port: config.localKserveProductionPort, urlSetting: 'KSERVE_PRODUCTION_URL' },
      { environment: 'staging' as const, port: config.localKserveStagingPort, urlSetting: 'KSERVE_STAGING_URL' },
    ];
    await Promise.all(
      servers.map(async (s) => {
        const modelDir = modelDirFor(s.environment);
        const explicitUrl = process.env[s.urlSetting];
        let server: ModelServerProcess;
        try {
          server = await startModelServerProcess({ port: s.port, modelDir, environment: s.environment });
        } catch (err) {
          // The default port is taken (another local stack, a parallel test run): when the gateway's URL is ours to
          // choose, any free port will do.
          if (explicitUrl) throw err;
          server = await startModelServerProcess({ port: 0, modelDir, environment: s.environment });
        }
        modelServers.push({ environment: s.environment, server });
        if (!explicitUrl) process.env[s.urlSetting] = server.url;
        const note =
          explicitUrl && new URL(explicitUrl).port !== String(server.port)
            ? ` (${s.urlSetting} is ${explicitUrl}: the gateway will not use it)`
            : '';
        logger.info(`KServe ${s.environment}: local V2 model server on ${server.url}, model version ${server.version}${note}`);
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
    kubeApi = started.api;
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

  const host = await startLocalHost({
    projectDir,
    port: config.localHostPort,
    blobService: getBlobServiceClient(),
    blobPollIntervalMs: config.blobPollIntervalMs,
    appSetting: (name) => process.env[name] ?? settingDefault(name),
    logger,
  });
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

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: stopping (flushing buffers, waiting for invocations in flight)`);
    const force = setTimeout(() => {
      logger.error('Shutdown took longer than 30 s; exiting');
      process.exit(1);
    }, 30000);
    force.unref();
    try {
      await host.stop();
      await kubeApi?.close();
      removeStackState(dir);
      await Promise.all(modelServers.map((m) => m.server.stop()));
      await azurite?.stop();
      logger.info('Stopped');
      process.exit(0);
    } catch (err) {
      logger.error('Shutdown failed', err);
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  console.error(`Local host failed to start: ${errorMessage(err)}`);
  process.exit(1);
});
