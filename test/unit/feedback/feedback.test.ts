// The feedback intake's pure parts: request validation (the predict API's wording), the message key, the record
// format, latest-wins deduplication, and erase of records still in the write buffer.
import { createHmac } from 'node:crypto';
import { BadRequestError } from '../../../shared/platform/errors';
import { emailSource, toRfc822 } from '../../../shared/serving/features/email';
import { parsePredictRequest } from '../../../shared/serving/predict/requestSchema';
import { parseFeedbackRequest } from '../../../shared/feedback/feedbackRequest';
import {
  FeedbackRecord,
  latestPerMessage,
  messageKey,
  parseFeedbackLines,
  serializeFeedbackRecord,
  toFeedbackRecord,
} from '../../../shared/feedback/feedbackRecord';
import { FeedbackWriter } from '../../../shared/feedback/feedbackWriter';

const structured = { subject: 'WIN CASH', from: 'promo@deals.example', to: 'you@example.com', body: 'click here' };
const raw = { raw: 'From: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\n\r\nlunch?' };

function badRequest(fn: () => unknown): BadRequestError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BadRequestError) return err;
    throw err;
  }
  throw new Error('expected a 400');
}

describe('parseFeedbackRequest', () => {
  it('accepts one feedback on either email form, with or without a request id', () => {
    expect(parseFeedbackRequest({ label: 'spam', email: structured, request_id: 'abc-1#3' }, 64)).toEqual({
      kind: 'single',
      item: { label: 'spam', requestId: 'abc-1#3', email: structured },
    });
    expect(parseFeedbackRequest({ label: 'ham', email: { ...raw, id: 'client-1' } }, 64)).toEqual({
      kind: 'single',
      item: { label: 'ham', email: raw },
    });
  });

  it('accepts a batch and applies the batch limit with the predict wording', () => {
    const one = { label: 'ham', email: raw };
    expect(parseFeedbackRequest({ instances: [one, one] }, 64)).toMatchObject({
      kind: 'batch',
      items: [{ label: 'ham' }, { label: 'ham' }],
    });
    const tooMany = badRequest(() => parseFeedbackRequest({ instances: [one, one, one] }, 2));
    expect(tooMany.code).toBe('batch_too_large');
    expect(tooMany.message).toBe(badRequest(() => parsePredictRequest({ instances: [raw, raw, raw] }, 2)).message);
    expect(badRequest(() => parseFeedbackRequest({ instances: [] }, 2)).message).toBe('instances: the batch is empty');
  });

  it('takes the time the label was given, with a zone, and refuses one without', () => {
    expect(parseFeedbackRequest({ label: 'ham', email: raw, labelled_at: '2002-09-12T08:00:00+02:00' }, 64)).toEqual({
      kind: 'single',
      item: { label: 'ham', email: raw, labelledAt: new Date('2002-09-12T06:00:00Z') },
    });
    for (const bad of ['2002-09-12T08:00:00', 'yesterday', 1031817600000]) {
      expect(badRequest(() => parseFeedbackRequest({ label: 'ham', email: raw, labelled_at: bad }, 64)).message).toMatch(
        /^labelled_at: expected an ISO 8601 time with a zone/,
      );
    }
  });

  it('names the path of what is wrong, with the email errors worded as predict words them', () => {
    expect(badRequest(() => parseFeedbackRequest({ email: raw }, 64)).message).toMatch(/^label: /);
    expect(badRequest(() => parseFeedbackRequest({ label: 'junk', email: raw }, 64)).message).toBe('label: expected "spam" or "ham"');
    expect(badRequest(() => parseFeedbackRequest({ label: 'spam' }, 64)).message).toMatch(/^email: required/);
    expect(badRequest(() => parseFeedbackRequest({ label: 'spam', email: raw, extra: 1 }, 64)).message).toMatch(/extra/);
    expect(badRequest(() => parseFeedbackRequest({ label: 'spam', email: raw, request_id: 'has space' }, 64)).message).toMatch(
      /^request_id: /,
    );
    const predictError = badRequest(() => parsePredictRequest({ raw: 'x', encoding: 'base64' }, 64)).message;
    expect(badRequest(() => parseFeedbackRequest({ label: 'spam', email: { raw: 'x', encoding: 'base64' } }, 64)).message).toBe(
      `email.${predictError}`,
    );
    const batchError = badRequest(() => parseFeedbackRequest({ instances: [{ label: 'spam', email: { ...structured, from: 3 } }] }, 64));
    expect(batchError).toMatchObject({ code: 'validation_error' });
    expect(batchError.message).toMatch(/^instances\[0\]\.email\.from: /);
    expect(badRequest(() => parseFeedbackRequest({ label: 'spam', email: 'text' }, 64)).message).toMatch(
      /^email: expected an email object/,
    );
    expect(badRequest(() => parseFeedbackRequest([1], 64)).message).toMatch(/^expected a feedback object/);
  });
});

describe('message key and record', () => {
  const key = 'test-key';

  it('is the HMAC-SHA256 of the bytes the gateway parses: the raw bytes, or the RFC 822 form of the structured email', () => {
    const r = toFeedbackRecord({ label: 'spam', email: structured }, new Date('2026-03-01T10:00:00.000Z'), 'id-1', key);
    const bytes = toRfc822(structured);
    expect(r).toEqual({
      feedback_id: 'id-1',
      message_key: createHmac('sha256', key).update(bytes).digest('hex'),
      label: 'spam',
      received_at: '2026-03-01T10:00:00.000Z',
      form: 'structured',
      message: bytes.toString('base64'),
    });
    const rawRecord = toFeedbackRecord({ label: 'ham', email: raw, requestId: 'r1' }, new Date(), 'id-2', key);
    expect(Buffer.from(rawRecord.message, 'base64')).toEqual(emailSource(raw));
    expect(rawRecord).toMatchObject({ form: 'raw', request_id: 'r1' });
    // The same message sent base64 is the same message.
    const b64 = { raw: Buffer.from(raw.raw).toString('base64'), encoding: 'base64' as const };
    expect(toFeedbackRecord({ label: 'ham', email: b64 }, new Date(), 'id-3', key).message_key).toBe(rawRecord.message_key);
  });

  it('depends on the key, so a list of candidate messages cannot be checked without it', () => {
    const bytes = Buffer.from('hello');
    expect(messageKey(bytes, 'a')).not.toBe(messageKey(bytes, 'b'));
    expect(messageKey(bytes, 'a')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('round-trips through its line format; invalid lines are reported and skipped', () => {
    const r = toFeedbackRecord({ label: 'spam', email: raw, requestId: 'q' }, new Date(), 'id', key);
    const invalid: string[] = [];
    const body = `${serializeFeedbackRecord(r)}\nnot json\n${JSON.stringify({ ...r, label: 'maybe' })}\n\n`;
    expect(parseFeedbackLines(body, (_l, reason) => invalid.push(reason))).toEqual([r]);
    expect(invalid).toHaveLength(2);
  });
});

describe('latestPerMessage', () => {
  const rec = (key: string, label: 'spam' | 'ham', at: string, id: string): FeedbackRecord => ({
    feedback_id: id,
    message_key: key.repeat(64).slice(0, 64),
    label,
    received_at: at,
    form: 'raw',
    message: '',
  });

  it('keeps the latest label per message, whatever the order; same-millisecond ties go to the larger feedback_id', () => {
    const records = [
      rec('a', 'spam', '2026-03-01T10:00:00.000Z', '1'),
      rec('a', 'ham', '2026-03-02T10:00:00.000Z', '2'),
      rec('b', 'ham', '2026-03-01T10:00:00.000Z', 'x-1'),
      rec('b', 'spam', '2026-03-01T10:00:00.000Z', 'x-2'),
      rec('c', 'spam', '2026-03-01T09:00:00.000Z', '9'),
    ];
    const expected = [records[1], records[3], records[4]];
    expect(latestPerMessage(records)).toEqual(expected);
    expect(latestPerMessage([...records].reverse())).toEqual(expected);
    expect(latestPerMessage([records[3], records[0], records[4], records[2], records[1]])).toEqual(expected);
  });
});

describe('FeedbackWriter buffer', () => {
  function writer(
    upload: (name: string, body: Buffer) => Promise<void>,
    overrides: Partial<ConstructorParameters<typeof FeedbackWriter>[0]> = {},
  ) {
    return new FeedbackWriter({
      maxBufferedRecords: 100,
      maxBatchRecords: 50,
      flushIntervalMs: 60_000,
      retryBaseDelayMs: 10,
      retryMaxDelayMs: 50,
      maxConcurrentUploads: 2,
      writerId: 'wtest',
      upload,
      ...overrides,
    });
  }

  it('erase takes buffered records of the request id out before they are written', async () => {
    const written: string[] = [];
    const w = writer((_name, body) => {
      written.push(...body.toString().trim().split('\n'));
      return Promise.resolve();
    });
    w.accept(
      [
        { label: 'spam', email: raw, requestId: 'gone' },
        { label: 'ham', email: structured, requestId: 'kept' },
      ],
      new Date(),
      'k',
    );
    w.accept([{ label: 'ham', email: structured, requestId: 'gone' }], new Date(), 'k');
    expect(await w.eraseBuffered('gone')).toEqual({ removed: 2, abandonedNames: [] });
    const stats = await w.flush();
    expect(stats).toMatchObject({ written: 1, buffered: 0, erased_in_buffer: 2 });
    expect(written.map((l) => JSON.parse(l).request_id)).toEqual(['kept']);
  });

  it('erase also reaches a batch waiting for a retry after a failed upload', async () => {
    let fail = true;
    const written: string[] = [];
    const tried: string[] = [];
    const w = writer((name, body) => {
      tried.push(name);
      if (fail) return Promise.reject(new Error('Blob is down'));
      written.push(...body.toString().trim().split('\n'));
      return Promise.resolve();
    });
    w.accept(
      [
        { label: 'spam', email: raw, requestId: 'gone' },
        { label: 'spam', email: structured },
      ],
      new Date(),
      'k',
    );
    void w.flush(50);
    await new Promise((r) => setTimeout(r, 20));
    expect(w.stats().failed_uploads).toBeGreaterThan(0);
    // The failed attempt may still land under its name: the erase hands that name back to be claimed, and the rest
    // of the batch is written under another.
    const erased = await w.eraseBuffered('gone');
    expect(erased).toEqual({ removed: 1, abandonedNames: [tried[0]] });
    fail = false;
    expect(await w.flush()).toMatchObject({ written: 1, buffered: 0 });
    expect(written.map((l) => JSON.parse(l).request_id)).toEqual([undefined]);
    expect(tried.at(-1)).not.toBe(tried[0]);
  });

  it('a request that does not fit is refused whole: nothing of it stays buffered', () => {
    const w = writer(() => Promise.resolve(), { maxBufferedRecords: 3 });
    expect(
      w.accept(
        [
          { label: 'spam', email: raw },
          { label: 'spam', email: raw },
        ],
        new Date(),
        'k',
      ),
    ).toHaveLength(2);
    expect(
      w.accept(
        [
          { label: 'spam', email: raw },
          { label: 'spam', email: raw },
        ],
        new Date(),
        'k',
      ),
    ).toBeUndefined();
    expect(w.stats().buffered).toBe(2);
  });

  it('a refused request starts no upload, even where its first records would have filled a batch', async () => {
    const uploads: string[] = [];
    const w = writer(
      (name) => {
        uploads.push(name);
        return Promise.resolve();
      },
      { maxBufferedRecords: 3, maxBatchRecords: 2 },
    );
    const four = Array.from({ length: 4 }, () => ({ label: 'spam' as const, email: raw }));
    expect(w.accept(four, new Date(), 'k')).toBeUndefined();
    await w.flush();
    expect(uploads).toEqual([]);
    expect(w.stats()).toMatchObject({ written: 0, buffered: 0, dropped: 4 });
  });

  it('the byte bound refuses what would not fit in memory', () => {
    const w = writer(() => Promise.resolve(), { maxBufferedBytes: 800 });
    const big = { raw: 'x'.repeat(300) };
    expect(w.accept([{ label: 'spam', email: big }], new Date(), 'k')).toHaveLength(1);
    expect(w.accept([{ label: 'spam', email: big }], new Date(), 'k')).toBeUndefined();
  });
});
