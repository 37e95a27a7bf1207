// What the load client reports, and its latency percentiles (nearest rank).
/** busy: 503 `busy` answers (the gateway's worker pool was full and said come back), not errors. */
export interface KindStats { requests: number; errors: number; busy: number; p50Ms: number; p99Ms: number; maxMs: number }
export interface LoadReport {
  seconds: number;
  requests: number;
  /** Requests not started because MAX_IN_FLIGHT were still waiting for an answer. */
  skipped: number;
  errors: number;
  /** 503 `busy` answers: the back-pressure working as designed, counted apart from errors. */
  busy: number;
  errorSamples: string[];
  all: KindStats;
  byKind: Record<string, KindStats>;
  /** CPU the load client itself used, in seconds. */
  cpuSeconds: number;
  /** Every answered request's latency per kind, for percentiles over several turns. */
  latenciesMs: Record<string, number[]>;
}

export function stats(values: number[], errs: number, busy = 0): KindStats {
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number) => (v.length ? v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)] : NaN);
  return { requests: v.length + errs + busy, errors: errs, busy, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: v.length ? v[v.length - 1] : NaN };
}
