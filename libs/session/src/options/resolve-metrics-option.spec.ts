import { Registry } from 'prom-client';
import { SessionConfigError } from '../errors/session-config.error';
import { SESSION_METRICS_BUCKETS } from './metrics-options';
import { resolveMetricsOption } from './resolve-metrics-option';

describe('resolveMetricsOption', () => {
  it('is off when unset or false, and takes every default with true', () => {
    expect(resolveMetricsOption(undefined)).toBeUndefined();
    expect(resolveMetricsOption(false)).toBeUndefined();
    expect(resolveMetricsOption(true)).toEqual({ prefix: '', buckets: [...SESSION_METRICS_BUCKETS] });
  });

  it('keeps a registry, a prefix and buckets', () => {
    const registry = new Registry();
    expect(resolveMetricsOption({ registry, prefix: 'shop_', buckets: [0.001, 0.01] })).toEqual({ registry, prefix: 'shop_', buckets: [0.001, 0.01] });
  });

  it.each([
    [{ registry: {} }, 'metrics.registry'],
    [{ prefix: 'bad-prefix' }, 'metrics.prefix'],
    [{ buckets: [] }, 'metrics.buckets'],
    [{ buckets: [0.01, 0.001] }, 'metrics.buckets'],
    [{ bucket: [1] }, 'metrics.bucket'],
    ['yes', 'metrics'],
  ])('rejects %j at boot, naming %s', (value, option) => {
    expect(() => resolveMetricsOption(value as never)).toThrow(SessionConfigError);
    try {
      resolveMetricsOption(value as never);
    } catch (error) {
      expect((error as SessionConfigError).option).toBe(option);
      expect((error as Error).message).toContain(`"${option}"`);
    }
  });
});
