// Azurite (Blob only) from node_modules, as a child process, for `npm start` and the tests. The child is this
// file, compiled: it runs Azurite's own entry point in its process and stops it, the way Azurite's Ctrl-C does, when
// the channel to its parent closes (ownedChild.ts), so Azurite outlives neither a clean stop nor a killed parent.
//   node dist/tools/devhost/azurite.js --blobHost 127.0.0.1 --blobPort N --location DIR ...   (Azurite's options)
import { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { compiledScript, isRunning, spawnOwnedChild, stopChild, stopWithParent } from './ownedChild';

/** Azurite's well-known development account (public, documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
export const AZURITE_DEFAULT_BLOB_PORT = 10000;

export function azuriteConnectionString(port: number): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};`
  );
}

export interface AzuriteProcess {
  readonly port: number;
  readonly connectionString: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(child)) throw new Error(`Azurite exited (${child.exitCode ?? child.signalCode})`);
    if (await isPortOpen(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Azurite did not listen on port ${port} within ${timeoutMs} ms`);
}

export async function startAzurite(options: { port: number; location: string; timeoutMs?: number }): Promise<AzuriteProcess> {
  fs.mkdirSync(options.location, { recursive: true });
  const child = spawnOwnedChild(
    compiledScript('tools', 'devhost', 'azurite.js'),
    [
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(options.port),
      '--location',
      options.location,
      '--skipApiVersionCheck',
      '--loose',
      '--silent',
      '--disableTelemetry',
    ],
    { stdout: 'ignore' },
  );
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  try {
    await waitForPort(options.port, child, options.timeoutMs ?? 20000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}${stderr ? `: ${stderr.trim()}` : ''}`, { cause: err });
  }
  return {
    port: options.port,
    connectionString: azuriteConnectionString(options.port),
    pid: child.pid,
    // Closing the channel is the child's signal to stop (a signal alone would leave the channel holding it open).
    stop: () => stopChild(child, (c) => (c.connected ? c.disconnect() : c.kill('SIGINT'))),
  };
}

/** The child: Azurite's Blob service in this process, stopped through its own SIGINT handler when the parent goes. */
function runAzuriteChild(): void {
  // Before Azurite has installed its handler, SIGINT's default action ends the process, which is as good.
  stopWithParent(() => process.kill(process.pid, 'SIGINT'));
  // Azurite's entry point reads its options from process.argv, which are this script's arguments as they are.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- Azurite's CLI entry point, run for its side effects
  require('azurite/dist/src/blob/main.js');
}

if (require.main === module) runAzuriteChild();
