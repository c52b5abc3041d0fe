// autocannon ships no type declarations; this is the subset the benchmarks (predict.ts, feedback.ts) use.
declare module 'autocannon' {
  namespace autocannon {
    interface Result {
      requests: { average: number; total: number };
      latency: { p50: number; p90: number; p99: number; average: number };
      '2xx': number;
      non2xx: number;
      errors: number;
      timeouts: number;
    }
  }
  function autocannon(opts: Record<string, unknown>): Promise<autocannon.Result>;
  export = autocannon;
}
