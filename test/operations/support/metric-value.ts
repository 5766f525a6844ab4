import type { Registry } from 'prom-client';

type Sample = { value: number; metricName?: string; labels: Record<string, string | number> };

/**
 * The value of one series: a counter's or gauge's with these labels, or a histogram's `_count`/`_sum`
 * with `suffix`. 0 when the series does not exist yet (Prometheus' own reading of a missing counter).
 */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}, suffix?: 'count' | 'sum'): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric named ${name}`);
  const values = (await metric.get()).values as Sample[];
  const wanted = suffix ? `${name}_${suffix}` : undefined;
  const match = values.find((sample) => sample.metricName === wanted && Object.entries(labels).every(([key, value]) => String(sample.labels[key]) === value));
  return match ? Number(match.value) : 0;
}

/** How many store calls of this operation ended with this result. */
export function storeCalls(registry: Registry, operation: string, result: string): Promise<number> {
  return metricValue(registry, 'session_store_duration_seconds', { operation, result }, 'count');
}
