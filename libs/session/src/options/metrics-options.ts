/**
 * The part of a prom-client `Registry` the library uses, spelled out so the library's typings do not
 * require prom-client for apps that leave metrics off.
 */
export interface MetricsRegistry {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
  removeSingleMetric(name: string): void;
}

/** The `metrics` option of `SessionModule.forRoot` in its long form (`true` takes every default). */
export interface SessionMetricsOptions {
  /**
   * prom-client `Registry` to register the metrics in. The global one is what
   * `@willsoto/nestjs-prometheus` exposes; give each SessionModule of one process its own registry.
   * @default prom-client's global `register`
   */
  registry?: MetricsRegistry;
  /** Prepended to every metric name, e.g. `'shop_'`. @default '' */
  prefix?: string;
  /** Upper bounds, in seconds, of `session_store_duration_seconds`. @default SESSION_METRICS_BUCKETS */
  buckets?: number[];
}

/** Buckets of the store latency histogram, in seconds: fit for sub-millisecond Redis calls and for timeouts. */
export const SESSION_METRICS_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** `metrics` after validation. */
export interface ResolvedMetricsOptions {
  registry?: MetricsRegistry;
  prefix: string;
  buckets: number[];
}
