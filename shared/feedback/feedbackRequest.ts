// The feedback request: `{ request_id?, label, email }` or `{ instances: [...] }` of them. The email is exactly an
// instance of the predict request (structured or raw RFC 822, an `id` allowed and ignored), validated by the predict
// request's own parser, so the two APIs accept the same mail and answer the same 400s.
import { z } from 'zod';
import { BadRequestError } from '../platform/errors';
import type { EmailInput } from '../serving/features/email';
import { REQUEST_ID } from '../serving/predict/httpInput';
import { describeIssues, parseInstance, parseSingleOrBatch } from '../serving/predict/requestSchema';

export const FEEDBACK_LABELS = ['spam', 'ham'] as const;
export type FeedbackLabel = (typeof FEEDBACK_LABELS)[number];

/** A prediction's request id as the log holds it: the predict call's id, and `#i` for batch member i. */
export const PREDICTION_REQUEST_ID = new RegExp(`^(?:${REQUEST_ID.source.slice(1, -1)})(?:#\\d{1,4})?$`);

const envelope = z
  .object({
    request_id: z
      .string()
      .regex(PREDICTION_REQUEST_ID, 'expected the request_id of a prediction (1-128 characters [A-Za-z0-9._:@-], optionally #n)')
      .optional(),
    label: z.enum(FEEDBACK_LABELS, { error: 'expected "spam" or "ham"' }),
    labelled_at: z.iso.datetime({ offset: true, error: 'expected an ISO 8601 time with a zone, such as 2026-01-31T09:30:00Z' }).optional(),
    email: z.unknown().refine((v) => v !== undefined, 'required: the email the feedback is about'),
  })
  .strict();

export interface FeedbackInput {
  readonly label: FeedbackLabel;
  readonly requestId?: string;
  /**
   * When the user gave the label, as the client says (a mail client that queued it offline, an import of labelled
   * mail); the record counts from then. Absent: when the gateway received it.
   */
  readonly labelledAt?: Date;
  readonly email: EmailInput;
}

export type FeedbackRequest = { kind: 'single'; item: FeedbackInput } | { kind: 'batch'; items: FeedbackInput[] };

function parseFeedbackItem(value: unknown, prefix: (string | number)[]): FeedbackInput {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequestError(
      describeIssues(
        [{ code: 'custom', path: [], input: value, message: 'expected a feedback object ({ label, email, request_id?, labelled_at? })' }],
        prefix,
      ),
      'validation_error',
    );
  }
  const parsed = envelope.safeParse(value);
  if (!parsed.success) throw new BadRequestError(describeIssues(parsed.error.issues, prefix), 'validation_error');
  const { email } = parseInstance(parsed.data.email, [...prefix, 'email']);
  const { label, request_id, labelled_at } = parsed.data;
  return {
    label,
    email,
    ...(request_id !== undefined ? { requestId: request_id } : {}),
    ...(labelled_at !== undefined ? { labelledAt: new Date(labelled_at) } : {}),
  };
}

/** Validate a parsed JSON body as a single or batch feedback request (400s worded as the predict API's). */
export function parseFeedbackRequest(body: unknown, maxBatch: number): FeedbackRequest {
  return parseSingleOrBatch(body, maxBatch, parseFeedbackItem);
}
