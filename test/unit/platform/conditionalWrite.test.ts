import { Readable } from 'node:stream';
import type { ContainerClient } from '@azure/storage-blob';
import { BlobConflictError, conditionalWrite, ConditionalWrite, StoredJson } from '../../../shared/platform/blobStorage';

interface Doc {
  owner: string;
}

/** What the fake service answers to the upload: its ETag, or an error thrown in its place. */
type Answer = { etag: string } | { error: Error };

function statusError(statusCode: number, code?: string): Error {
  return Object.assign(new Error(`status ${statusCode}`), { statusCode, code });
}

/** A container whose one upload answers `answer`; records what was sent. */
function fakeContainer(answer: Answer, stored?: { text: string; etag: string }) {
  const uploads: { blob: string; body: string; options: unknown }[] = [];
  const container = {
    getBlockBlobClient: (blob: string) => ({
      upload: (body: string, _length: number, options: unknown) => {
        uploads.push({ blob, body, options });
        if ('error' in answer) return Promise.reject(answer.error);
        return Promise.resolve({ etag: answer.etag });
      },
    }),
    getBlobClient: () => ({
      download: () => {
        if (!stored) return Promise.reject(statusError(404, 'BlobNotFound'));
        return Promise.resolve({ readableStreamBody: Readable.from([Buffer.from(stored.text)]), etag: stored.etag });
      },
    }),
  } as unknown as ContainerClient;
  return { container, uploads };
}

function write(answer: Answer, reread: () => Promise<StoredJson<Doc> | undefined>, extra: Partial<ConditionalWrite<Doc>> = {}) {
  const fake = fakeContainer(answer);
  let reads = 0;
  const result = conditionalWrite<Doc>({
    container: fake.container,
    blob: 'state/doc.json',
    value: { owner: 'us' },
    condition: { ifMatch: '"0x1"' },
    isOurs: (stored) => stored.owner === 'us',
    read: () => {
      reads++;
      return reread();
    },
    ...extra,
  });
  return { result, uploads: fake.uploads, reads: () => reads };
}

const ours = () => Promise.resolve({ value: { owner: 'us' }, etag: '"0x2"' });
const theirs = () => Promise.resolve({ value: { owner: 'them' }, etag: '"0x3"' });
const nothing = () => Promise.resolve(undefined);
const unreadable = (): Promise<never> => Promise.reject(statusError(503));

describe('conditionalWrite', () => {
  it('takes an answered write at its word, without reading back', async () => {
    const w = write({ etag: '"0x9"' }, theirs);
    expect(await w.result).toEqual({ outcome: 'written', etag: '"0x9"' });
    expect(w.reads()).toBe(0);
  });

  it('sends the condition, the JSON and its content type as given', async () => {
    const lease = write({ etag: '"0x9"' }, nothing, { condition: { leaseId: 'lease-1', ifMatch: '"0x1"' }, value: '{"owner":"us"}' });
    await lease.result;
    expect(lease.uploads).toEqual([
      {
        blob: 'state/doc.json',
        body: '{"owner":"us"}',
        options: { conditions: { leaseId: 'lease-1', ifMatch: '"0x1"' }, blobHTTPHeaders: { blobContentType: 'application/json' } },
      },
    ]);
    const create = write({ etag: '"0x9"' }, nothing, { condition: { ifNoneMatch: '*' }, contentType: 'text/plain' });
    await create.result;
    expect(create.uploads[0].body).toBe(JSON.stringify({ owner: 'us' }, null, 2));
    expect(create.uploads[0].options).toEqual({ conditions: { ifNoneMatch: '*' }, blobHTTPHeaders: { blobContentType: 'text/plain' } });
  });

  it('counts a write whose answer was lost as written when what is stored is ours (the retry met its own write: 412)', async () => {
    const lost = statusError(412, 'ConditionNotMet');
    const w = write({ error: lost }, ours);
    expect(await w.result).toEqual({
      outcome: 'written',
      etag: '"0x2"',
      recovered: { error: lost, stored: { value: { owner: 'us' }, etag: '"0x2"' } },
    });
  });

  it('counts a timed-out write that landed as written', async () => {
    const timeout = Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
    expect(await write({ error: timeout }, ours).result).toMatchObject({
      outcome: 'written',
      etag: '"0x2"',
      recovered: { error: timeout },
    });
  });

  it.each([409, 412])('calls a %d refused when what is stored is not ours, as a BlobConflictError carrying the status', async (status) => {
    const result = await write({ error: statusError(status, 'Conflicting') }, theirs).result;
    expect(result).toMatchObject({ outcome: 'refused', stored: { value: { owner: 'them' }, etag: '"0x3"' } });
    const error = (result as { error: BlobConflictError }).error;
    expect(error).toBeInstanceOf(BlobConflictError);
    expect(error).toMatchObject({ blobName: 'state/doc.json', statusCode: status, code: 'Conflicting' });
  });

  it('calls a refusal with nothing stored refused, with no stored document', async () => {
    expect(await write({ error: statusError(412) }, nothing).result).toMatchObject({ outcome: 'refused', stored: undefined });
  });

  it('leaves any other error unknown while what is stored is not ours: the write may still land', async () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(await write({ error: reset }, theirs).result).toEqual({ outcome: 'unknown', error: reset });
    expect(await write({ error: statusError(500) }, nothing).result).toMatchObject({ outcome: 'unknown' });
  });

  it('leaves even a refusal unknown when what is stored cannot be read or judged', async () => {
    const refusal = statusError(412);
    expect(await write({ error: refusal }, unreadable).result).toEqual({ outcome: 'unknown', error: refusal });
    const misjudged = write({ error: refusal }, () => Promise.resolve({ value: null as unknown as Doc, etag: '"0x4"' }));
    expect(await misjudged.result).toEqual({ outcome: 'unknown', error: refusal });
  });

  it('refuses a write its last check stops, unsent, once what is stored shows it is not ours', async () => {
    const lost = new Error('lost the lease');
    const stopped = write({ etag: '"0x9"' }, theirs, {
      beforeSend: () => {
        throw lost;
      },
    });
    expect(await stopped.result).toEqual({ outcome: 'refused', error: lost, stored: { value: { owner: 'them' }, etag: '"0x3"' } });
    expect(stopped.uploads).toEqual([]);
    const unread = write({ etag: '"0x9"' }, unreadable, {
      beforeSend: () => {
        throw lost;
      },
    });
    expect(await unread.result).toEqual({ outcome: 'unknown', error: lost });
  });

  it('reads the stored JSON blob back by default', async () => {
    const refusal = statusError(412);
    const mine = fakeContainer({ error: refusal }, { text: '{"owner":"us"}', etag: '"0x5"' });
    const options = {
      blob: 'state/doc.json',
      value: { owner: 'us' },
      condition: { ifNoneMatch: '*' as const },
      isOurs: (d: Doc) => d.owner === 'us',
    };
    expect(await conditionalWrite<Doc>({ ...options, container: mine.container })).toMatchObject({ outcome: 'written', etag: '"0x5"' });
    const absent = fakeContainer({ error: refusal });
    expect(await conditionalWrite<Doc>({ ...options, container: absent.container })).toMatchObject({
      outcome: 'refused',
      stored: undefined,
    });
  });
});
