// Command-line options shared by the benchmarks: `--name value`, positive numbers only.

export function positiveOption(name: string, fallback: number, kind: 'integer' | 'number' = 'integer'): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  const ok = kind === 'integer' ? Number.isInteger(v) : Number.isFinite(v);
  if (!ok || v <= 0) throw new Error(`--${name} must be a positive ${kind}`);
  return v;
}
