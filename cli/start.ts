// `npm start`: the whole system on one machine, on embedded defaults.
//   Azurite (Blob) on 127.0.0.1:10000 with data in .azurite/ (unless AzureWebJobsStorage points elsewhere)
//   the Function App's functions on http://localhost:7071/api (HTTP, timers, blob triggers)
// Ctrl-C stops triggers, waits for invocations in flight, flushes buffers (appTerminate hooks) and stops Azurite.
import path from 'node:path';
import { CONTAINERS } from '../shared/blobLayout';
import { ensureContainers, getBlobServiceClient, storageAuth } from '../shared/blobStorage';
import { getConfig, settingDefault } from '../shared/config';
import { AZURITE_DEFAULT_BLOB_PORT, AzuriteProcess, isPortOpen, startAzurite } from '../devhost/azurite';
import { startLocalHost } from '../devhost/host';
import { loadLocalSettings } from '../devhost/localSettings';
import { consoleLogger } from '../devhost/logging';

const projectDir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..'));

async function main(): Promise<void> {
  const started = performance.now();
  const logger = consoleLogger({ verbose: process.env.LOCAL_HOST_VERBOSE === 'true' });
  logger.info(`Node ${process.version}, project ${projectDir}`);
  const settingsFile = loadLocalSettings(projectDir);
  logger.info(settingsFile ? `Settings from ${settingsFile} and the environment` : 'Settings from the environment and embedded defaults');
  const config = getConfig();

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
  await ensureContainers(Object.values(CONTAINERS));
  const host = await startLocalHost({
    projectDir,
    port: config.localHostPort,
    blobService: getBlobServiceClient(),
    blobPollIntervalMs: config.blobPollIntervalMs,
    appSetting: (name) => process.env[name] ?? settingDefault(name),
    logger,
  });
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
  console.error(`Local host failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
