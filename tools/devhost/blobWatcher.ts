// Blob triggers on the local host. Azurite raises no Event Grid events, so the host lists the watched containers
// on an interval and delivers each new or changed blob once, keeping receipts where the Functions host keeps
// them (`azure-webjobs-hosts/blobreceipts/...`), so a restart does not deliver the same blob version again.
// Like Azure, a handler that keeps failing is given up on after five attempts (the "poison" blob).
import { InvocationContext } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { randomUUID } from 'node:crypto';
import { isBlobNotFound } from '../../shared/platform/blobStorage';
import { RegisteredFunction } from './functionsCore';
import { HostLogger, invocationLogHandler } from './logging';

const RECEIPTS_CONTAINER = 'azure-webjobs-hosts';
const HOST_ID = 'localhost';
const MAX_ATTEMPTS = 5;

export interface BlobPathPattern {
  container: string;
  prefix: string;
  match(blobName: string): Record<string, string> | undefined;
}

/** `container/raw/{name}` → container, the literal prefix to list, and a matcher that extracts the parameters. */
export function compileBlobPath(path: string): BlobPathPattern {
  const slash = path.indexOf('/');
  const container = slash < 0 ? path : path.slice(0, slash);
  const rest = slash < 0 ? '{name}' : path.slice(slash + 1);
  const names: string[] = [];
  const source = rest
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{([^}]+)\}$/.exec(part);
      if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]);
      return '(.+?)';
    })
    .join('');
  const regex = new RegExp(`^${source}$`, 's');
  const brace = rest.indexOf('{');
  return {
    container,
    prefix: brace < 0 ? rest : rest.slice(0, brace),
    match(blobName) {
      const m = regex.exec(blobName);
      if (!m) return undefined;
      return Object.fromEntries(names.map((n, i) => [n, m[i + 1]]));
    },
  };
}

export interface BlobWatcher {
  /** Run one listing pass over every watched container now (tests use it to avoid waiting for the interval). */
  poll(): Promise<void>;
  stop(): Promise<void>;
}

export function startBlobWatcher(
  functions: RegisteredFunction[],
  service: BlobServiceClient,
  intervalMs: number,
  resolveSetting: (expr: string) => string,
  logger: HostLogger,
): BlobWatcher {
  const receipts = service.getContainerClient(RECEIPTS_CONTAINER);
  const watched = functions.map((fn) => ({ fn, pattern: compileBlobPath(resolveSetting(String(fn.trigger.path))) }));
  const delivered = new Set<string>();
  const attempts = new Map<string, number>();
  const inflight = new Set<string>();
  let stopped = false;
  let current: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  const receiptName = (fn: string, etag: string, container: string, blob: string) =>
    `blobreceipts/${HOST_ID}/${fn}/${etag.replace(/"/g, '')}/${container}/${blob}`;

  async function deliver(fn: RegisteredFunction, container: string, blobName: string, etag: string, params: Record<string, string>) {
    const key = receiptName(fn.name, etag, container, blobName);
    if (delivered.has(key) || inflight.has(key)) return;
    inflight.add(key);
    try {
      await deliverOnce(fn, container, blobName, etag, params, key);
    } finally {
      inflight.delete(key);
    }
  }

  async function deliverOnce(
    fn: RegisteredFunction,
    container: string,
    blobName: string,
    etag: string,
    params: Record<string, string>,
    key: string,
  ) {
    const receipt = receipts.getBlockBlobClient(key);
    if (await receipt.exists()) {
      delivered.add(key);
      return;
    }
    const blob = service.getContainerClient(container).getBlobClient(blobName);
    let content: Buffer;
    let properties;
    try {
      properties = await blob.getProperties();
      content = await blob.downloadToBuffer();
    } catch (err) {
      if (isBlobNotFound(err)) return; // deleted between listing and delivery: nothing to deliver
      throw err;
    }
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: fn.name,
      logHandler: invocationLogHandler(logger, fn.name),
      triggerMetadata: {
        ...params,
        blobTrigger: `${container}/${blobName}`,
        uri: blob.url,
        properties: { length: content.length, eTag: etag, contentType: properties.contentType, lastModified: properties.lastModified },
        metadata: properties.metadata ?? {},
      },
    });
    try {
      await fn.handler(content, context);
    } catch (err) {
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      if (n < MAX_ATTEMPTS) {
        logger.warn(`${fn.name} failed on ${container}/${blobName} (attempt ${n} of ${MAX_ATTEMPTS}): ${(err as Error).message}`);
        return;
      }
      logger.error(`${fn.name} gave up on ${container}/${blobName} after ${MAX_ATTEMPTS} attempts (poison blob)`, err);
    }
    attempts.delete(key);
    await receipt.upload('', 0, { metadata: { function: fn.name } });
    delivered.add(key);
  }

  async function pass(): Promise<void> {
    await receipts.createIfNotExists();
    for (const { fn, pattern } of watched) {
      const container = service.getContainerClient(pattern.container);
      try {
        for await (const item of container.listBlobsFlat({ prefix: pattern.prefix })) {
          if (stopped) return;
          const params = pattern.match(item.name);
          if (!params) continue;
          await deliver(fn, pattern.container, item.name, item.properties.etag ?? '', params);
        }
      } catch (err) {
        if (!isBlobNotFound(err)) logger.warn(`listing ${pattern.container} for ${fn.name} failed: ${(err as Error).message}`);
      }
    }
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(() => {
      current = pass()
        .catch((err) => logger.warn(`blob watcher pass failed: ${(err as Error).message}`))
        .finally(schedule);
    }, intervalMs);
  }

  if (watched.length) schedule();

  return {
    async poll() {
      await current;
      current = pass();
      await current;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current.catch(() => undefined);
    },
  };
}
