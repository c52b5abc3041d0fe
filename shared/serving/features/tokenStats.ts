// Per-token spam statistics learned at training time (the model's token table, `tokens.json` beside the ONNX
// file) and their per-message summaries: the `token_*` features and the Robinson-Fisher combined score.
//
// A token's spam probability is Robinson's smoothed estimate f(w) = (s·x + n·p(w)) / (s + n), with p(w) the
// Graham ratio of its document frequencies in spam and ham, n its number of messages, x = 0.5 the prior and s
// the prior's strength; the table stores logit(f(w)) rounded to 1e-4 (the rounded value is what training used).
import { z } from 'zod';

export const TOKEN_TABLE_SCHEMA_VERSION = 1 as const;

export interface TokenTableParams {
  /** Robinson's s: how many messages' worth of weight the prior x carries. */
  readonly strength: number;
  /** Robinson's x: the spam probability assumed for a token never seen. */
  readonly prior: number;
  /** Tokens seen in fewer messages are left out of the table. */
  readonly minMessages: number;
  /** Bound on the table's size (the most frequent tokens are kept): the table ships with the model. */
  readonly maxTokens: number;
}

export const DEFAULT_TOKEN_TABLE_PARAMS: TokenTableParams = { strength: 1, prior: 0.5, minMessages: 3, maxTokens: 20000 };

/** The token table as stored in `tokens.json`: tokens sorted, each with its spam log-odds. */
export const tokenTableFileSchema = z.object({
  schemaVersion: z.literal(TOKEN_TABLE_SCHEMA_VERSION),
  params: z.object({ strength: z.number(), prior: z.number(), minMessages: z.number().int(), maxTokens: z.number().int() }),
  spamMessages: z.number().int().nonnegative(),
  hamMessages: z.number().int().nonnegative(),
  tokens: z.array(z.tuple([z.string(), z.number()])),
});

export interface TokenTableFile {
  readonly schemaVersion: typeof TOKEN_TABLE_SCHEMA_VERSION;
  readonly params: TokenTableParams;
  readonly spamMessages: number;
  readonly hamMessages: number;
  /** [token, spam log-odds], sorted by token. */
  readonly tokens: readonly (readonly [string, number])[];
}

/** Validate a parsed `tokens.json`. */
export function parseTokenTableFile(json: unknown): TokenTableFile {
  return tokenTableFileSchema.parse(json);
}

export interface TokenTable {
  readonly file: TokenTableFile;
  readonly logOdds: ReadonlyMap<string, number>;
}

export function tokenTableFromFile(file: TokenTableFile): TokenTable {
  return { file, logOdds: new Map(file.tokens) };
}

/** A table that knows no token (features of an untrained transformer; tests). */
export const EMPTY_TOKEN_TABLE: TokenTable = tokenTableFromFile({
  schemaVersion: TOKEN_TABLE_SCHEMA_VERSION,
  params: DEFAULT_TOKEN_TABLE_PARAMS,
  spamMessages: 0,
  hamMessages: 0,
  tokens: [],
});

export interface LabelledTokens {
  readonly tokens: ReadonlySet<string>;
  readonly spam: boolean;
}

const round4 = (v: number) => Math.round(v * 1e4) / 1e4;

/** Learn a token table from labelled messages (each message counts a token once). Deterministic. */
export function buildTokenTable(messages: readonly LabelledTokens[], params: TokenTableParams = DEFAULT_TOKEN_TABLE_PARAMS): TokenTable {
  const counts = new Map<string, [number, number]>();
  let nSpam = 0;
  let nHam = 0;
  for (const m of messages) {
    if (m.spam) nSpam++;
    else nHam++;
    for (const t of m.tokens) {
      let c = counts.get(t);
      if (!c) counts.set(t, (c = [0, 0]));
      c[m.spam ? 0 : 1]++;
    }
  }
  const kept = [...counts.entries()]
    .filter(([, [s, h]]) => s + h >= params.minMessages)
    .sort((a, b) => b[1][0] + b[1][1] - (a[1][0] + a[1][1]) || (a[0] < b[0] ? -1 : 1))
    .slice(0, params.maxTokens);
  const tokens: [string, number][] = kept.map(([t, [s, h]]) => {
    const spamRate = nSpam ? s / nSpam : 0;
    const hamRate = nHam ? h / nHam : 0;
    const p = spamRate + hamRate > 0 ? spamRate / (spamRate + hamRate) : params.prior;
    const n = s + h;
    const f = Math.min(0.999, Math.max(0.001, (params.strength * params.prior + n * p) / (params.strength + n)));
    return [t, round4(Math.log(f / (1 - f)))];
  });
  tokens.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return tokenTableFromFile({
    schemaVersion: TOKEN_TABLE_SCHEMA_VERSION,
    params: { ...params },
    spamMessages: nSpam,
    hamMessages: nHam,
    tokens,
  });
}

/** How many of the most extreme tokens the Robinson-Fisher score combines (SpamBayes uses 150 of |f-0.5| > 0.1; 30 suits short mail). */
export const COMBINED_TOKENS = 30;

/** Chi-square survival function for an even number of degrees of freedom (closed form). */
export function chi2Q(x2: number, dof: number): number {
  const m = x2 / 2;
  let term = Math.exp(-m);
  let sum = term;
  for (let i = 1; i < dof / 2; i++) {
    term *= m / i;
    sum += term;
  }
  return Math.min(sum, 1);
}

export interface TokenSummary {
  token_count_log: number;
  token_unknown_share: number;
  token_logodds_mean: number;
  token_logodds_std: number;
  token_logodds_max: number;
  token_logodds_min: number;
  token_spam_share: number;
  token_ham_share: number;
  robinson_fisher_score: number;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** The per-message token features of a message's distinct tokens. */
export function summariseTokens(tokens: ReadonlySet<string>, table: TokenTable): TokenSummary {
  const known: number[] = [];
  for (const t of tokens) {
    const lo = table.logOdds.get(t);
    if (lo !== undefined) known.push(lo);
  }
  const n = known.length;
  const summary: TokenSummary = {
    token_count_log: Math.log1p(tokens.size),
    token_unknown_share: tokens.size ? 1 - n / tokens.size : 1,
    token_logodds_mean: 0,
    token_logodds_std: 0,
    token_logodds_max: 0,
    token_logodds_min: 0,
    token_spam_share: 0,
    token_ham_share: 0,
    robinson_fisher_score: 0.5,
  };
  if (n === 0) return summary;
  let sum = 0;
  let max = -Infinity;
  let min = Infinity;
  let spammy = 0;
  let hammy = 0;
  for (const v of known) {
    sum += v;
    if (v > max) max = v;
    if (v < min) min = v;
    if (v > 1) spammy++;
    if (v < -1) hammy++;
  }
  const mean = sum / n;
  let sq = 0;
  for (const v of known) sq += (v - mean) ** 2;
  summary.token_logodds_mean = mean;
  summary.token_logodds_std = n > 1 ? Math.sqrt(sq / n) : 0;
  summary.token_logodds_max = max;
  summary.token_logodds_min = min;
  summary.token_spam_share = spammy / n;
  summary.token_ham_share = hammy / n;
  summary.robinson_fisher_score = robinsonFisher(known);
  return summary;
}

/** SpamBayes' chi-squared combining over the most extreme tokens: (S - H + 1) / 2 in [0, 1]. */
export function robinsonFisher(logOdds: readonly number[]): number {
  const extreme = [...logOdds].sort((a, b) => Math.abs(b) - Math.abs(a) || b - a).slice(0, COMBINED_TOKENS);
  const k = extreme.length;
  if (k === 0) return 0.5;
  let lnSpam = 0;
  let lnHam = 0;
  for (const lo of extreme) {
    const f = sigmoid(lo);
    lnSpam += Math.log(f);
    lnHam += Math.log(1 - f);
  }
  const s = 1 - chi2Q(-2 * lnHam, 2 * k);
  const h = 1 - chi2Q(-2 * lnSpam, 2 * k);
  return (s - h + 1) / 2;
}
