// Command-line options of the benchmarks: `--name value`, positive numbers only, parsed strictly by tools/cli/cliArgs.ts
// (each benchmark parses its command line with parseCliArgs inside a runCli main, so a bad value is one line and
// exit code 2, before any work).
import { parseInteger, parsePositiveNumber } from '../cli/cliArgs';

/** The value of `--name` (`raw`, undefined when not given) as a positive integer or number, or `fallback`. */
export function positiveOption(name: string, raw: string | undefined, fallback: number, kind: 'integer' | 'number' = 'integer'): number {
  if (raw === undefined) return fallback;
  return kind === 'integer' ? parseInteger(name, raw, { min: 1 }) : parsePositiveNumber(name, raw);
}
