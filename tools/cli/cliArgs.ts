// Command-line arguments of the CLIs (tools/cli/*.ts) and the benchmarks (tools/bench/*.ts): one strict parser over
// node:util parseArgs, strict value parsers, and one way to end a command (runCli).
//
//   * Unknown options, options without their value, values given to flags and positional arguments a command does
//     not take are errors; so is an empty value (`--seed=`).
//   * Numbers are decimal: `0x10`, `1e3` (for integers), `abc`, `NaN`, `Infinity` and '' are refused, as are values
//     outside the option's range. Times must look like ISO 8601 (YYYY-MM-DD with an optional time and zone).
//   * A bad argument throws UsageError; runCli prints `<name>: <message>` and the usage and exits 2, before the
//     command has done anything. Any other error prints `<name>: <message>` (no stack) and exits 1. `--help`/`-h`
//     prints the usage and exits 0.
import { parseArgs, ParseArgsOptionsConfig } from 'node:util';
import { isLocalEndpoint, storageUnreachable } from '../../shared/platform/blobStorage';
import { errorMessage } from '../../shared/platform/errors';

/** A bad command line: the command prints the message and its usage and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** `--help` or `-h` was given: runCli prints the usage and exits 0. */
export class HelpRequested extends Error {
  override name = 'HelpRequested';
  constructor() {
    super('help requested');
  }
}

type ParsedValues<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>
>['values'];

export interface CliArgs<O extends ParseArgsOptionsConfig> {
  values: ParsedValues<O>;
  positionals: string[];
}

export interface CliArgsConfig {
  /** How many positional arguments the command takes at most (default: none). */
  positionals?: number;
}

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

/**
 * parseArgs with `strict: true` and `--help`/`-h` added: throws UsageError for a bad command line and HelpRequested
 * for `--help` (which wins over other mistakes, so `cmd --bogus --help` still shows the usage).
 * A negative number after a string option (`--ttl-seconds -5`) is taken as its value, so that the value's check
 * names the real problem; parseArgs alone would call it an ambiguous option.
 */
export function parseCliArgs<const O extends ParseArgsOptionsConfig>(
  args: readonly string[],
  options: O,
  config: CliArgsConfig = {},
): CliArgs<O> {
  if ('help' in options) throw new Error('parseCliArgs: --help is added by parseCliArgs itself');
  const all: ParseArgsOptionsConfig = { ...options, ...HELP_OPTION };
  const end = args.indexOf('--');
  const wantsHelp = (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
  let parsed: { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: joinNegativeValues(args, all), options: all, strict: true, allowPositionals: true });
  } catch (err) {
    if (wantsHelp) throw new HelpRequested();
    throw new UsageError(describeParseError(err));
  }
  if (parsed.values.help) throw new HelpRequested();
  const allowed = config.positionals ?? 0;
  if (parsed.positionals.length > allowed) {
    const extra = parsed.positionals
      .slice(allowed)
      .map((p) => JSON.stringify(p))
      .join(', ');
    throw new UsageError(
      allowed === 0
        ? `unexpected argument ${extra}: this command takes no positional arguments`
        : `unexpected argument ${extra}: this command takes at most ${allowed} positional argument${allowed === 1 ? '' : 's'}`,
    );
  }
  for (const [name, value] of Object.entries(parsed.values)) {
    for (const v of Array.isArray(value) ? value : [value]) if (v === '') throw new UsageError(`--${name} needs a value, got an empty one`);
  }
  const { help: _help, ...values } = parsed.values;
  return { values: values as ParsedValues<O>, positionals: parsed.positionals };
}

/** `--name -5` → `--name=-5` for string options (before any `--`). */
function joinNegativeValues(args: readonly string[], options: ParseArgsOptionsConfig): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    if (
      arg.startsWith('--') &&
      !arg.includes('=') &&
      options[arg.slice(2)]?.type === 'string' &&
      next !== undefined &&
      /^-\.?\d/.test(next)
    ) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** parseArgs' errors as one line. */
function describeParseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = String(e?.message ?? err);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
  const option = quoted.split(' ')[0];
  switch (e?.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(quoted)}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(message)) return `${option} takes no value`;
      if (/ambiguous/.test(message)) return `${option} needs a value (a value that starts with '-' is written ${option}=VALUE)`;
      return `${option} needs a value`;
    default:
      return message.split('\n')[0];
  }
}

function invalid(option: string, raw: string, expected: string): UsageError {
  return new UsageError(`--${option} ${JSON.stringify(raw)} is not valid: expected ${expected}`);
}

export interface IntegerRange {
  min?: number;
  max?: number;
}

function integerExpectation({ min, max }: IntegerRange): string {
  if (min !== undefined && max !== undefined) return `an integer from ${min} to ${max}`;
  if (min === 1) return 'a positive integer';
  if (min === 0) return 'a non-negative integer';
  if (min !== undefined) return `an integer of ${min} or more`;
  if (max !== undefined) return `an integer of ${max} or less`;
  return 'an integer';
}

/** A decimal integer (optional '-', digits only) within `range`; `option` is the option's name without `--`. */
export function parseInteger(option: string, raw: string, range: IntegerRange = {}): number {
  const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || (range.min !== undefined && n < range.min) || (range.max !== undefined && n > range.max)) {
    throw invalid(option, raw, integerExpectation(range));
  }
  return n;
}

export interface NumberRange {
  /** Inclusive bounds. */
  min?: number;
  max?: number;
  /** Exclusive bounds. */
  above?: number;
  below?: number;
}

function numberExpectation({ min, max, above, below }: NumberRange): string {
  const lower = above !== undefined ? `greater than ${above}` : min !== undefined ? `at least ${min}` : '';
  const upper = below !== undefined ? `less than ${below}` : max !== undefined ? `at most ${max}` : '';
  if (above === 0 && !upper) return 'a positive number';
  return ['a number', [lower, upper].filter(Boolean).join(' and ')].filter(Boolean).join(' ');
}

/** A finite decimal number (`1`, `-0.5`, `.25`, `2.5e-3`; not `0x10`, `Infinity`, `NaN`) within `range`. */
export function parseNumber(option: string, raw: string, range: NumberRange = {}): number {
  const n = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw) ? Number(raw) : NaN;
  const { min, max, above, below } = range;
  if (
    !Number.isFinite(n) ||
    (min !== undefined && n < min) ||
    (max !== undefined && n > max) ||
    (above !== undefined && n <= above) ||
    (below !== undefined && n >= below)
  ) {
    throw invalid(option, raw, numberExpectation(range));
  }
  return n;
}

/** A finite decimal number greater than 0. */
export function parsePositiveNumber(option: string, raw: string): number {
  return parseNumber(option, raw, { above: 0 });
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * An ISO-8601 time: YYYY-MM-DD, optionally with THH:MM[:SS[.fff]] and a zone (Z or ±HH:MM); a real calendar date
 * and clock time. Parsed as Date.parse does (a date alone is UTC midnight, a time without a zone is local time).
 */
export function parseIsoTime(option: string, raw: string): Date {
  const m = ISO_TIME.exec(raw);
  const expected = 'an ISO-8601 time such as 2026-01-15 or 2026-01-15T10:00:00Z';
  if (!m) throw invalid(option, raw, expected);
  const [year, month, day, hour = 0, minute = 0, second = 0] = m
    .slice(1, 7)
    .map((v) => (v === undefined ? undefined : Number(v))) as number[];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const zone = m[7];
  const zoneOk = !zone || zone === 'Z' || (Number(zone.slice(1, 3)) <= 23 && Number(zone.slice(-2)) <= 59);
  const t = Date.parse(raw);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59 || !zoneOk || !Number.isFinite(t))
    throw invalid(option, raw, expected);
  return new Date(t);
}

/** One of `choices`. */
export function parseChoice<const T extends string>(option: string, raw: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(raw)) return raw as T;
  throw invalid(option, raw, choices.length === 2 ? `${choices[0]} or ${choices[1]}` : `one of ${choices.join(', ')}`);
}

/** Rethrows what `check` throws for a bad value as a UsageError (for validators shared with the app, say). */
export function asUsage<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}

/** Every command that touches Blob fails the same way when the local stack is down: say so, and how to fix it. */
function unreachableStorage(err: unknown): string | undefined {
  let found: ReturnType<typeof storageUnreachable>;
  try {
    found = storageUnreachable(err);
  } catch {
    return undefined; // a bad setting: the error itself says which
  }
  if (!found) return undefined;
  return isLocalEndpoint(found.endpoint) ? `${found.message}: start it with npm start` : `${found.message}: ${errorMessage(err)}`;
}

/**
 * Run a command: `main` gets the arguments after the script and returns the exit code (nothing: 0). UsageError →
 * `<name>: <message>` and the usage on stderr, exit 2; HelpRequested → the usage on stdout, exit 0; any other
 * error → `<name>: <message>` on stderr (no stack), exit 1. Always ends the process when main is done.
 */
export function runCli(name: string, main: (argv: string[]) => Promise<number | void> | number | void, usage: string): void {
  const argv = process.argv.slice(2);
  new Promise<number | void>((resolve) => resolve(main(argv))).then(
    (code) => process.exit(code ?? 0),
    (err: unknown) => {
      if (err instanceof HelpRequested) {
        process.stdout.write(`${usage.trimEnd()}\n`);
        process.exit(0);
      }
      const message = errorMessage(err);
      if (err instanceof UsageError) {
        process.stderr.write(`${name}: ${message}\n${usage.trimEnd()}\n`);
        process.exit(2);
      }
      process.stderr.write(`${name}: ${unreachableStorage(err) ?? message}\n`);
      process.exit(1);
    },
  );
}
