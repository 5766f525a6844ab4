import { Counter, Registry } from 'prom-client';

/** Injection token of the replica's prom-client registry: the library's metrics and the shop's own. */
export const METRICS_REGISTRY = 'shop:metrics-registry';

/**
 * One registry per app, not prom-client's global one: tests run several replicas in one process, and
 * each must expose only its own figures (Prometheus adds the instance label when it scrapes).
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  new Counter({
    name: 'shop_http_requests_total',
    help: 'HTTP requests this replica answered, by method and status.',
    labelNames: ['method', 'status'],
    registers: [registry],
  });
  return registry;
}
