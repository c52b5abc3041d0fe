// The Predict API request (docs/gateway.md, API), validated with zod: one email, structured or raw RFC 822, with
// an optional client `id`; or a bounded batch `{ "instances": [...] }`. The email shape itself is defined once, by
// the features (`emailInputSchema`); this module adds the envelope and turns zod's issues into one readable 400.
import { z } from 'zod';
import { ENVIRONMENTS, Environment, isEnvironment } from '../../platform/blobLayout';
import { BadRequestError } from '../../platform/errors';
import { EmailInput, emailInputSchema, headerNameProblem, RawEmail, rawEncodingProblem } from '../features/email';

export const clientIdSchema = z.string().min(1).max(256);

const [rawEmailSchema, structuredEmailSchema] = emailInputSchema.options;
const rawInstance = rawEmailSchema.extend({ id: clientIdSchema.optional() }).strict();
const structuredInstance = structuredEmailSchema.extend({ id: clientIdSchema.optional() }).strict();

export interface PredictInstance {
  readonly email: EmailInput;
  readonly id?: string;
}

export type PredictRequest = { kind: 'single'; instance: PredictInstance } | { kind: 'batch'; instances: PredictInstance[] };

/** Names a client chose (unknown keys, header names) shown in an error: a few, each cut short. */
const MAX_NAMES_SHOWN = 5;
const MAX_NAME_CHARS = 64;

function shortName(name: string): string {
  return name.length > MAX_NAME_CHARS ? `${name.slice(0, MAX_NAME_CHARS)}…` : name;
}

/** `"a", "b", "c", "d", "e" and 12 more`: an error must stay small however many keys a request makes up. */
export function listNames(names: readonly string[]): string {
  const shown = names
    .slice(0, MAX_NAMES_SHOWN)
    .map((n) => JSON.stringify(shortName(n)))
    .join(', ');
  return names.length > MAX_NAMES_SHOWN ? `${shown} and ${names.length - MAX_NAMES_SHOWN} more` : shown;
}

/** `instances[2].raw: message`, or the message alone at the top level. */
function atPath(path: readonly PropertyKey[], message: string): string {
  const where = path.map((p, k) => (typeof p === 'number' ? `[${p}]` : `${k ? '.' : ''}${shortName(String(p))}`)).join('');
  return where ? `${where}: ${message}` : message;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  // zod's own message lists every unknown key.
  return issue.code === 'unrecognized_keys' ? `unexpected keys: ${listNames(issue.keys)}` : issue.message;
}

export function describeIssues(issues: readonly z.core.$ZodIssue[], prefix: (string | number)[]): string {
  return issues
    .slice(0, MAX_NAMES_SHOWN)
    .map((i) => atPath([...prefix, ...i.path], issueMessage(i)))
    .join('; ');
}

/**
 * One email with an optional `id`. The two forms are told apart by the presence of `raw`, so the error names the
 * missing or mistyped field of the form the client meant instead of zod's generic union message.
 */
export function parseInstance(value: unknown, prefix: (string | number)[]): PredictInstance {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequestError(atPath(prefix, 'expected an email object ({ subject, from, to, body } or { raw })'), 'validation_error');
  }
  const schema = 'raw' in value ? rawInstance : structuredInstance;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new BadRequestError(describeIssues(parsed.error.issues, prefix), 'validation_error');
  const { id, ...email } = parsed.data as { id?: string } & Record<string, unknown>;
  const encoding = 'raw' in value ? rawEncodingProblem(email as unknown as RawEmail) : undefined;
  if (encoding) throw new BadRequestError(atPath([...prefix, 'raw'], encoding), 'validation_error');
  const headerProblems = Object.keys((email.headers as Record<string, unknown> | undefined) ?? {})
    .map((name) => [name, headerNameProblem(name)] as const)
    .filter(([, problem]) => problem !== undefined)
    .map(([name, problem]) => atPath([...prefix, 'headers', name], problem!));
  if (headerProblems.length) throw new BadRequestError(headerProblems.slice(0, MAX_NAMES_SHOWN).join('; '), 'validation_error');
  return { email: email as unknown as EmailInput, ...(id !== undefined ? { id } : {}) };
}

/** Validate a parsed JSON body as a single or batch predict/transform request. */
export function parsePredictRequest(body: unknown, maxBatch: number): PredictRequest {
  const parsed = parseSingleOrBatch(body, maxBatch, parseInstance);
  return parsed.kind === 'single' ? { kind: 'single', instance: parsed.item } : { kind: 'batch', instances: parsed.items };
}

/**
 * One item, or `{ "instances": [...] }` of at most `maxBatch` items, each validated by `parseOne` with its path
 * (`instances[i]`): the batch envelope and its errors, shared by every API that takes the predict request's shape.
 */
export function parseSingleOrBatch<T>(
  body: unknown,
  maxBatch: number,
  parseOne: (value: unknown, prefix: (string | number)[]) => T,
): { kind: 'single'; item: T } | { kind: 'batch'; items: T[] } {
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && 'instances' in body) {
    const { instances, ...rest } = body;
    const extra = Object.keys(rest);
    if (extra.length)
      throw new BadRequestError(`a batch request holds only 'instances'; unexpected: ${listNames(extra)}`, 'validation_error');
    if (!Array.isArray(instances)) throw new BadRequestError('instances: expected an array of emails', 'validation_error');
    if (instances.length === 0) throw new BadRequestError('instances: the batch is empty', 'validation_error');
    if (instances.length > maxBatch) {
      throw new BadRequestError(
        `instances: the batch holds ${instances.length} emails; at most ${maxBatch} are allowed`,
        'batch_too_large',
      );
    }
    return { kind: 'batch', items: instances.map((v, i) => parseOne(v, ['instances', i])) };
  }
  return { kind: 'single', item: parseOne(body, []) };
}

/** `X-Environment`: staging | production, default production; anything else is a 400 naming the allowed values. */
export function parseEnvironment(header: string | null): Environment {
  if (header === null || header.trim() === '') return 'production';
  const value = header.trim().toLowerCase();
  if (isEnvironment(value)) return value;
  throw new BadRequestError(
    `X-Environment must be one of ${ENVIRONMENTS.join(', ')} (default production); got ${JSON.stringify(header.slice(0, 64))}`,
    'unknown_environment',
  );
}
