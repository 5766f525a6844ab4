import { SessionConfigError } from '../errors/session-config.error';
import { SESSION_METRICS_BUCKETS, type ResolvedMetricsOptions, type SessionMetricsOptions } from './metrics-options';

/** Validates `metrics` at boot; undefined when metrics are off. prom-client itself is loaded later, only when on. */
export function resolveMetricsOption(value: boolean | SessionMetricsOptions | undefined): ResolvedMetricsOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { prefix: '', buckets: [...SESSION_METRICS_BUCKETS] };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SessionConfigError('metrics', `must be true, false or an object { registry, prefix, buckets }; got ${String(value)}`);
  }
  const { registry, prefix = '', buckets = [...SESSION_METRICS_BUCKETS] } = value;
  const known = ['registry', 'prefix', 'buckets'];
  const unknown = Object.keys(value).find((key) => !known.includes(key));
  if (unknown) throw new SessionConfigError(`metrics.${unknown}`, `is not an option; the options are ${known.join(', ')}`);
  if (registry !== undefined && (registry === null || typeof (registry as { registerMetric?: unknown }).registerMetric !== 'function')) {
    throw new SessionConfigError('metrics.registry', 'must be a prom-client Registry');
  }
  if (typeof prefix !== 'string' || !/^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/.test(prefix)) {
    throw new SessionConfigError('metrics.prefix', `must be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*); got ${JSON.stringify(prefix)}`);
  }
  const increasing =
    Array.isArray(buckets) &&
    buckets.length > 0 &&
    buckets.every((b, i) => typeof b === 'number' && b > 0 && Number.isFinite(b) && (i === 0 || b > buckets[i - 1]));
  if (!increasing) throw new SessionConfigError('metrics.buckets', 'must be a non-empty array of increasing positive numbers of seconds');
  return { registry, prefix, buckets: [...buckets] };
}
