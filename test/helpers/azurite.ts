// A private Azurite per test file: a free port and a temporary data folder, so test files run in parallel and a
// test may stop and restart "its" Blob service to inject an outage.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AzuriteProcess, freePort, startAzurite } from '../../tools/devhost/azurite';

export interface TestAzurite {
  readonly connectionString: string;
  readonly port: number;
  stop(): Promise<void>;
  /** Start again on the same port and data folder (after `stop`). */
  restart(): Promise<void>;
  /** Stop and delete the data folder. */
  dispose(): Promise<void>;
}

export async function startTestAzurite(): Promise<TestAzurite> {
  const port = await freePort();
  const location = fs.mkdtempSync(path.join(os.tmpdir(), 'azurite-test-'));
  let proc: AzuriteProcess | undefined = await startAzurite({ port, location });
  const connectionString = proc.connectionString;
  return {
    connectionString,
    port,
    async stop() {
      await proc?.stop();
      proc = undefined;
    },
    async restart() {
      proc ??= await startAzurite({ port, location });
    },
    async dispose() {
      await proc?.stop();
      proc = undefined;
      fs.rmSync(location, { recursive: true, force: true });
    },
  };
}
