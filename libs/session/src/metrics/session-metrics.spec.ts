import * as prom from 'prom-client';
import { combineObservers } from '../redis/session-observer';
import type { ActiveSessions } from './active-sessions';
import type { PromClient } from './load-prom-client';
import { SessionMetrics } from './session-metrics';

/** The active-sessions gauges are not under test here: a count that never arrives leaves them unset. */
const noActivity = { count: () => Promise.reject(new Error('not counted here')), note: () => undefined } as unknown as ActiveSessions;

function metricsOn(registry: prom.Registry, prefix = ''): SessionMetrics {
  return new SessionMetrics(prom as unknown as PromClient, { registry, prefix, buckets: [0.001, 0.01] }, noActivity);
}

async function valueOf(registry: prom.Registry, name: string): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  return metric ? (await metric.get()).values[0]?.value : undefined;
}

describe('SessionMetrics', () => {
  it('counts durability shortfalls, shown at 0 from the first scrape', async () => {
    const registry = new prom.Registry();
    const metrics = metricsOn(registry, 'shop_');
    expect(await valueOf(registry, 'shop_session_durability_shortfalls_total')).toBe(0);
    metrics.durabilityShortfall();
    metrics.durabilityShortfall();
    expect(await valueOf(registry, 'shop_session_durability_shortfalls_total')).toBe(2);
    expect(await registry.metrics()).toContain('# TYPE shop_session_durability_shortfalls_total counter');
  });

  it('hears a shortfall through the observers the gateway reports to', async () => {
    const registry = new prom.Registry();
    const observer = combineObservers([metricsOn(registry), {}]);
    observer?.durabilityShortfall?.();
    expect(await valueOf(registry, 'session_durability_shortfalls_total')).toBe(1);
  });

  it('takes its metrics out of the registry when unregistered', () => {
    const registry = new prom.Registry();
    metricsOn(registry).unregister();
    expect(registry.getSingleMetric('session_durability_shortfalls_total')).toBeUndefined();
  });
});
