// The thread parsePool.ts parses in: one email per message (its RFC 822 bytes), answered with what its features
// take from it (transformer.ts prepareEmail) or the reason it cannot be parsed.
import { parentPort } from 'node:worker_threads';
import { parseEmail } from './email';
import { prepareEmail } from './transformer';

const port = parentPort!;
port.on('message', (source: Uint8Array) => {
  parseEmail({ raw: Buffer.from(source.buffer, source.byteOffset, source.byteLength) }).then(
    (email) => port.postMessage({ prepared: prepareEmail(email) }),
    (err: unknown) => port.postMessage({ error: err instanceof Error ? err.message : String(err) }),
  );
});
