// tools/cli/cliArgs.ts: the strict argument parsing every CLI and benchmark uses. Unit tests of the parsers, then
// the compiled commands (dist/tools/cli, dist/tools/bench) run as processes with bad arguments: each must exit 2 with a one-line
// message and its usage, no stack trace, before doing anything (no network, no Redis, no Blob, no training, no
// file written).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  HelpRequested,
  parseChoice,
  parseCliArgs,
  parseInteger,
  parseIsoTime,
  parseNumber,
  parsePositiveNumber,
  UsageError,
} from '../../../tools/cli/cliArgs';
import { REPO_ROOT, distPath } from '../../helpers/paths';

const run = promisify(execFile);

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('value parsers', () => {
  it('parseInteger: decimal digits only, within the range', () => {
    expect(parseInteger('batch', '32', { min: 1 })).toBe(32);
    expect(parseInteger('seed', '0', { min: 0, max: 0xffffffff })).toBe(0);
    expect(parseInteger('seed', '4294967295', { min: 0, max: 0xffffffff })).toBe(4294967295);
    expect(parseInteger('x', '-5')).toBe(-5);
    expect(parseInteger('x', '007')).toBe(7);
    for (const bad of ['', ' 1', '1 ', '0x10', '1e3', '1.5', '1.0', 'abc', 'NaN', 'Infinity', '-', '+1', '99999999999999999999']) {
      expect(usageError(() => parseInteger('batch', bad)).message).toBe(`--batch ${JSON.stringify(bad)} is not valid: expected an integer`);
    }
    expect(usageError(() => parseInteger('batch', '0', { min: 1, max: 1024 })).message).toBe(
      '--batch "0" is not valid: expected an integer from 1 to 1024',
    );
    expect(usageError(() => parseInteger('batch', '1025', { min: 1, max: 1024 })).message).toMatch(/from 1 to 1024/);
    expect(usageError(() => parseInteger('runs', '0', { min: 1 })).message).toBe('--runs "0" is not valid: expected a positive integer');
    expect(usageError(() => parseInteger('seed', '-1', { min: 0 })).message).toBe(
      '--seed "-1" is not valid: expected a non-negative integer',
    );
    expect(usageError(() => parseInteger('n', '1', { min: 2 })).message).toMatch(/expected an integer of 2 or more/);
    expect(usageError(() => parseInteger('n', '9', { max: 8 })).message).toMatch(/expected an integer of 8 or less/);
  });

  it('parseNumber and parsePositiveNumber: finite decimal numbers, within the range', () => {
    expect(parseNumber('target-fpr', '0.01', { above: 0, below: 0.5 })).toBe(0.01);
    expect(parseNumber('target-fpr', '1e-2', { above: 0, below: 0.5 })).toBe(0.01);
    expect(parseNumber('x', '.5')).toBe(0.5);
    expect(parseNumber('x', '-2.5')).toBe(-2.5);
    expect(parseNumber('x', '3.')).toBe(3);
    expect(parsePositiveNumber('duration', '10')).toBe(10);
    expect(parsePositiveNumber('duration', '0.25')).toBe(0.25);
    for (const bad of ['', '0x10', 'abc', 'NaN', 'Infinity', '-Infinity', '1e', '1,5', ' 2', '1e999']) {
      expect(usageError(() => parsePositiveNumber('duration', bad)).message).toBe(
        `--duration ${JSON.stringify(bad)} is not valid: expected a positive number`,
      );
    }
    expect(usageError(() => parsePositiveNumber('duration', '0')).message).toMatch(/expected a positive number/);
    expect(usageError(() => parsePositiveNumber('duration', '-1')).message).toMatch(/expected a positive number/);
    expect(usageError(() => parseNumber('target-fpr', '0.5', { above: 0, below: 0.5 })).message).toBe(
      '--target-fpr "0.5" is not valid: expected a number greater than 0 and less than 0.5',
    );
    expect(usageError(() => parseNumber('p', '1.5', { min: 0, max: 1 })).message).toBe(
      '--p "1.5" is not valid: expected a number at least 0 and at most 1',
    );
  });

  it('parseIsoTime: YYYY-MM-DD with an optional time and zone, a real date', () => {
    expect(parseIsoTime('as-of', '2026-01-15').toISOString()).toBe('2026-01-15T00:00:00.000Z');
    expect(parseIsoTime('as-of', '2026-01-15T10:20:30Z').toISOString()).toBe('2026-01-15T10:20:30.000Z');
    expect(parseIsoTime('as-of', '2026-01-15T10:20:30.123Z').toISOString()).toBe('2026-01-15T10:20:30.123Z');
    expect(parseIsoTime('as-of', '2026-01-15T10:20+02:00').toISOString()).toBe('2026-01-15T08:20:00.000Z');
    expect(parseIsoTime('as-of', '2024-02-29T00:00:00Z').toISOString()).toBe('2024-02-29T00:00:00.000Z');
    // Without a zone, a time is local (as Date.parse has it): only check that it is accepted.
    expect(Number.isFinite(parseIsoTime('as-of', '2026-01-15T10:20').getTime())).toBe(true);
    for (const bad of [
      '',
      '1',
      '2026',
      '2026-1-5',
      '20260115',
      '2026-13-01',
      '2026-02-30',
      '2025-02-29',
      '2026-01-15T24:00Z',
      '2026-01-15T10:60Z',
      '2026-01-15T10',
      'tomorrow',
      'Jan 15 2026',
      '2026-01-15Z',
      '2026-01-15T10:00:00+25:00',
    ]) {
      expect(usageError(() => parseIsoTime('created', bad)).message).toBe(
        `--created ${JSON.stringify(bad)} is not valid: expected an ISO-8601 time such as 2026-01-15 or 2026-01-15T10:00:00Z`,
      );
    }
  });

  it('parseChoice: one of the choices', () => {
    expect(parseChoice('source', 'logs', ['training', 'logs'])).toBe('logs');
    expect(usageError(() => parseChoice('source', 'Logs', ['training', 'logs'])).message).toBe(
      '--source "Logs" is not valid: expected training or logs',
    );
    expect(usageError(() => parseChoice('child', '', ['a', 'b', 'c'])).message).toBe('--child "" is not valid: expected one of a, b, c');
  });
});

describe('parseCliArgs', () => {
  const options = { batch: { type: 'string' }, yes: { type: 'boolean', default: false } } as const;

  it('parses known options and positionals it allows', () => {
    expect(parseCliArgs(['--batch', '8', '--yes'], options)).toEqual({ values: { batch: '8', yes: true }, positionals: [] });
    expect(parseCliArgs(['--batch=8'], options).values).toEqual({ batch: '8', yes: false });
    expect(parseCliArgs(['1.1.0', '--yes'], options, { positionals: 1 })).toEqual({ values: { yes: true }, positionals: ['1.1.0'] });
    // A negative number is the value of the option before it (its own check then says what is wrong with it).
    expect(parseCliArgs(['--batch', '-5'], options).values.batch).toBe('-5');
    expect(parseCliArgs(['--batch', '-.5'], options).values.batch).toBe('-.5');
  });

  it('refuses unknown options, missing and empty values, values of flags, extra positionals', () => {
    const message = (args: string[], positionals = 0) => usageError(() => parseCliArgs(args, options, { positionals })).message;
    expect(message(['--bogus'])).toBe('unknown option --bogus');
    expect(message(['-q'])).toBe('unknown option -q');
    expect(message(['--batch'])).toBe('--batch needs a value');
    expect(message(['--batch', '--yes'])).toBe("--batch needs a value (a value that starts with '-' is written --batch=VALUE)");
    expect(message(['--batch='])).toBe('--batch needs a value, got an empty one');
    expect(message(['--yes=1'])).toBe('--yes takes no value');
    expect(message(['extra'])).toBe('unexpected argument "extra": this command takes no positional arguments');
    expect(message(['1.1.0', '1.2.0'], 1)).toBe('unexpected argument "1.2.0": this command takes at most 1 positional argument');
    expect(message(['--', '--bogus'])).toBe('unexpected argument "--bogus": this command takes no positional arguments');
    for (const args of [['--bogus'], ['--batch'], ['extra'], ['--batch', '--yes']]) expect(message(args)).not.toMatch(/\n/);
  });

  it('--help and -h ask for the usage, even beside a mistake', () => {
    for (const args of [['--help'], ['-h'], ['--batch', '3', '-h'], ['--bogus', '--help']]) {
      expect(() => parseCliArgs(args, options)).toThrow(HelpRequested);
    }
    // After `--` it is a positional argument.
    expect(parseCliArgs(['--', '--help'], options, { positionals: 1 }).positionals).toEqual(['--help']);
  });
});

/** Every file under `dir` with its size and modification time. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = fs.statSync(p);
        out[path.relative(dir, p)] = `${s.size} ${s.mtimeMs}`;
      }
    }
  };
  walk(dir);
  return out;
}

describe('the commands refuse bad arguments before doing anything', () => {
  let tmp: string;
  // Nothing may be reached: Redis and Blob point at a closed port, so a command that got past its arguments would
  // fail with exit code 1 (not 2), or hang.
  const env = {
    ...process.env,
    REDIS_URL: 'redis://127.0.0.1:1',
    AzureWebJobsStorage:
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;',
  };

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-args-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function fails(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(process.execPath, [distPath(script), ...args], { cwd: REPO_ROOT, env, timeout: 30_000 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  const cases: [name: string, script: string, args: string[], message: RegExp][] = [
    ['replay', 'tools/cli/replay.js', ['--batch', '0'], /^replay: --batch "0" is not valid: expected an integer from 1 to 1024$/],
    ['replay', 'tools/cli/replay.js', ['--batch', 'abc'], /^replay: --batch "abc" is not valid/],
    ['replay', 'tools/cli/replay.js', ['--concurrency', '0'], /^replay: --concurrency "0" is not valid: expected an integer from 1 to 64$/],
    [
      'replay',
      'tools/cli/replay.js',
      ['--url', 'localhost:7071'],
      /^replay: --url "localhost:7071" is not valid: expected an http\(s\) URL/,
    ],
    ['features:materialize', 'tools/cli/materialize.js', ['--bogus'], /^features:materialize: unknown option --bogus$/],
    [
      'features:materialize',
      'tools/cli/materialize.js',
      ['--ttl-seconds', '-5'],
      /^features:materialize: --ttl-seconds "-5" is not valid: expected an integer from 1 to/,
    ],
    [
      'features:materialize',
      'tools/cli/materialize.js',
      ['--ttl-seconds', '1.5'],
      /^features:materialize: --ttl-seconds "1.5" is not valid/,
    ],
    [
      'features:materialize',
      'tools/cli/materialize.js',
      ['--ttl-seconds', 'abc'],
      /^features:materialize: --ttl-seconds "abc" is not valid/,
    ],
    ['features:materialize', 'tools/cli/materialize.js', ['--source'], /^features:materialize: --source needs a value$/],
    [
      'features:materialize',
      'tools/cli/materialize.js',
      ['--source=log'],
      /^features:materialize: --source "log" is not valid: expected training or logs$/,
    ],
    [
      'features:materialize',
      'tools/cli/materialize.js',
      ['--source', 'logs', '--days', '7'],
      /^features:materialize: unknown option --days$/,
    ],
    [
      'features:materialize',
      'tools/cli/materialize.js',
      ['--source', 'logs', '--as-of', '1'],
      /^features:materialize: --as-of "1" is not valid: expected an ISO-8601 time/,
    ],
    [
      'features:materialize',
      'tools/cli/materialize.js',
      ['--as-of', '2026-01-15'],
      /^features:materialize: --as-of applies to --source logs/,
    ],
    ['promote', 'tools/cli/promote.js', ['1.1.0', '--bogus'], /^promote: unknown option --bogus$/],
    ['promote', 'tools/cli/promote.js', ['1.1.0', '--yse'], /^promote: unknown option --yse$/],
    ['promote', 'tools/cli/promote.js', ['1.1.0', '1.2.0'], /^promote: unexpected argument "1.2.0"/],
    ['promote', 'tools/cli/promote.js', [], /^promote: give the model version to promote$/],
    ['promote', 'tools/cli/promote.js', ['--publish-heldout', '1.1.0'], /^promote: --publish-heldout takes no version/],
    ['train', 'tools/cli/train.js', ['--seed='], /^train: --seed needs a value, got an empty one$/],
    ['train', 'tools/cli/train.js', ['--seed', '0x10'], /^train: --seed "0x10" is not valid: expected an integer from 0 to 4294967295$/],
    ['train', 'tools/cli/train.js', ['--created', '1'], /^train: --created "1" is not valid: expected an ISO-8601 time/],
    ['train', 'tools/cli/train.js', ['--subsample', '1e9'], /^train: --subsample "1e9" is not valid: expected an integer from 1 to 20$/],
    ['train', 'tools/cli/train.js', ['--subsample', '1000000000'], /^train: --subsample "1000000000" is not valid/],
    [
      'train',
      'tools/cli/train.js',
      ['--target-fpr', 'abc'],
      /^train: --target-fpr "abc" is not valid: expected a number greater than 0 and less than 0.5$/,
    ],
    ['train', 'tools/cli/train.js', ['--overwrite'], /^train: --overwrite applies to an upload/],
    ['train', 'tools/cli/train.js', ['--version', 'a b'], /^train: model version "a b" is not a valid model version/],
    ['bench:drift', 'tools/bench/drift.js', ['--rows', 'abc'], /^bench:drift: --rows "abc" is not valid: expected a positive integer$/],
    ['bench:drift', 'tools/bench/drift.js', ['--row', '10'], /^bench:drift: unknown option --row$/],
    [
      'bench:compaction',
      'tools/bench/compaction.js',
      ['--runs', '0'],
      /^bench:compaction: --runs "0" is not valid: expected a positive integer$/,
    ],
    ['bench:compaction', 'tools/bench/compaction.js', ['--child', 'bogus'], /^bench:compaction: --child "bogus" is not valid/],
    [
      'bench:predict',
      'tools/bench/predict.js',
      ['--duration', '1e999'],
      /^bench:predict: --duration "1e999" is not valid: expected a positive number$/,
    ],
    ['bench:predict', 'tools/bench/predict.js', ['--conections', '4'], /^bench:predict: unknown option --conections$/],
    ['bicep:settings', 'tools/cli/appSettings.js', ['--chek'], /^bicep:settings: unknown option --chek$/],
    [
      'drift',
      'tools/cli/drift.js',
      ['--reference', 'a.csv', '--current', 'b.csv', '--since', '24h'],
      /^drift: --since applies to the stored logs \(--env\)/,
    ],
    [
      'drift',
      'tools/cli/drift.js',
      ['--reference', 'a.csv', '--current', 'b.csv', '--version', '3', '--alert'],
      /^drift: --version and --alert apply to the stored logs/,
    ],
    ['drift', 'tools/cli/drift.js', ['--env', 'production', '--since', '2 weeks'], /^drift: --since "2 weeks" is not valid/],
    ['drift', 'tools/cli/drift.js', ['--env', 'prod'], /^drift: --env "prod" is not valid: expected production or staging$/],
    [
      'drift',
      'tools/cli/drift.js',
      ['--env', 'production', '--fail-on', 'warn'],
      /^drift: --fail-on "warn" is not valid: expected warning or critical$/,
    ],
    ['drift', 'tools/cli/drift.js', [], /^drift: give --reference and --current/],
  ];

  it.each(cases.map(([name, script, args, message]) => [name, args, script, message] as const))(
    '%s %j: exit 2, one line and the usage',
    async (name, args, script, message) => {
      const models = snapshot(path.join(REPO_ROOT, 'models'));
      const settings = snapshot(path.join(REPO_ROOT, 'bicep'));
      // Training that got past its arguments would write here, not to models/.
      const out = path.join(tmp, `${path.basename(script, '.js')}-${Date.now()}`);
      const r = await fails(script, script === 'tools/cli/train.js' ? [...args, '--out', out] : args);
      expect(r.stderr).not.toContain('    at ');
      const [first, ...rest] = r.stderr.split('\n');
      expect(first).toMatch(message);
      expect(rest.join('\n')).toMatch(new RegExp(`usage:[^]*npm run ${name.replace(':', '[:]')}`));
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(fs.existsSync(out)).toBe(false);
      expect(snapshot(path.join(REPO_ROOT, 'models'))).toEqual(models);
      expect(snapshot(path.join(REPO_ROOT, 'bicep'))).toEqual(settings);
    },
  );

  it.each([
    ['tools/cli/promote.js', ['--help'], 'npm run promote -- <version> [--yes]'],
    ['tools/cli/materialize.js', ['-h'], '--ttl-seconds <N>'],
    ['tools/cli/train.js', ['--help'], `--subsample <K>`],
    ['tools/cli/replay.js', ['--batch', '0', '--help'], '--concurrency <N>'],
    ['tools/cli/appSettings.js', ['-h'], '--check'],
    ['tools/cli/drift.js', ['--help'], '--fail-on warning|critical'],
    ['tools/bench/drift.js', ['--help'], '--no-scipy'],
    ['tools/bench/compaction.js', ['-h'], '--blob-rows <N>'],
    ['tools/bench/predict.js', ['--help'], '--connections <N>'],
  ])('%s %j prints the usage and exits 0', async (script, args, text) => {
    const r = await fails(script, args);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage:/);
    expect(r.stdout).toContain(text);
    expect(r.stderr).toBe('');
  });

  it('any other failure: exit 1 and `<name>: <message>`, no stack', async () => {
    const missing = path.join(tmp, 'missing.csv');
    const r = await fails('tools/cli/drift.js', ['--reference', missing, '--current', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^drift: .*missing\.csv/);
    expect(r.stderr).not.toContain('    at ');
    expect(r.stderr).not.toContain('usage:');
  });
});
