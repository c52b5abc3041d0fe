// What the feedback routes do, between the HTTP envelope (functions/feedback*.ts) and storage.
import { BadRequestError, ServiceUnavailableError } from '../platform/errors';
import { FeedbackRequest, PREDICTION_REQUEST_ID } from './feedbackRequest';
import { FeedbackRecord } from './feedbackRecord';
import { eraseFeedback, EraseResult } from './feedbackStore';
import { FeedbackWriter, getFeedbackWriter } from './feedbackWriter';
import { DEFAULT_LINK_LOOKBACK_MS, FeedbackSummary, summarizeFeedback } from './feedbackSummary';

export interface FeedbackAck {
  message_key: string;
  label: FeedbackRecord['label'];
  request_id?: string;
}

export type FeedbackResponse = (FeedbackAck & { received_at: string }) | { count: number; received_at: string; results: FeedbackAck[] };

/** Seconds a client waits before resubmitting when the buffer is full (about one flush interval and a write). */
const RETRY_AFTER_S = 5;

function ack(r: FeedbackRecord): FeedbackAck {
  return { message_key: r.message_key, label: r.label, ...(r.request_id !== undefined ? { request_id: r.request_id } : {}) };
}

/** How far a client's clock may run ahead of the gateway's before its `labelled_at` counts as in the future. */
const LABELLED_AT_MAX_SKEW_MS = 5 * 60_000;

/** Buffer the request's records for writing; 503 when the buffer is full (nothing of the request is kept then). */
export function submitFeedback(request: FeedbackRequest, writer: FeedbackWriter = getFeedbackWriter(), now = new Date()): FeedbackResponse {
  const items = request.kind === 'single' ? [request.item] : request.items;
  const future = items.findIndex((item) => item.labelledAt && item.labelledAt.getTime() > now.getTime() + LABELLED_AT_MAX_SKEW_MS);
  if (future >= 0) {
    const where = request.kind === 'single' ? 'labelled_at' : `instances[${future}].labelled_at`;
    throw new BadRequestError(`${where} lies in the future (the gateway's time is ${now.toISOString()})`, 'validation_error');
  }
  const records = writer.accept(items, now);
  if (!records)
    throw new ServiceUnavailableError(
      'the feedback buffer is full (Blob is slow or down); resubmit later: a resubmitted message replaces its earlier label',
      RETRY_AFTER_S,
    );
  const received_at = now.toISOString();
  return request.kind === 'single'
    ? { ...ack(records[0]), received_at }
    : { count: records.length, received_at, results: records.map(ack) };
}

/** DELETE /api/feedback/{request_id}: 400 unless the id has the shape of a prediction's request id. */
export function eraseFeedbackOf(requestId: string | undefined): Promise<EraseResult> {
  if (!requestId || !PREDICTION_REQUEST_ID.test(requestId)) {
    throw new BadRequestError(
      'request_id must be a prediction request id (1-128 characters [A-Za-z0-9._:@-], optionally #n)',
      'validation_error',
    );
  }
  return eraseFeedback(requestId);
}

function timeParam(query: URLSearchParams, name: string): Date | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  const t = new Date(raw);
  if (Number.isNaN(t.getTime()))
    throw new BadRequestError(
      `${name} must be an ISO 8601 time, e.g. 2026-01-31T00:00:00Z; got ${JSON.stringify(raw.slice(0, 64))}`,
      'validation_error',
    );
  return t;
}

/** GET /api/feedback/summary?since=...[&until=...][&lookback_hours=...]. */
export function feedbackSummaryOf(query: URLSearchParams, now = new Date()): Promise<FeedbackSummary> {
  const since = timeParam(query, 'since');
  if (!since) throw new BadRequestError('since is required: the start of the feedback window (ISO 8601)', 'validation_error');
  const until = timeParam(query, 'until') ?? now;
  if (until.getTime() <= since.getTime()) throw new BadRequestError('until must be after since', 'validation_error');
  const lookback = query.get('lookback_hours');
  let lookbackMs = DEFAULT_LINK_LOOKBACK_MS;
  if (lookback !== null && lookback !== '') {
    const hours = Number(lookback);
    if (!/^\d+$/.test(lookback) || hours > 24 * 366)
      throw new BadRequestError('lookback_hours must be an integer from 0 to 8784', 'validation_error');
    lookbackMs = hours * 3600_000;
  }
  return summarizeFeedback({ since, until, lookbackMs });
}
