import { SessionConfigError } from '../errors/session-config.error';

/** The few prom-client classes the library uses (typed loosely: prom-client is an optional peer). */
export interface PromClient {
  register: unknown;
  Counter: new (config: object) => PromCounter;
  Gauge: new (config: object) => PromGauge;
  Histogram: new (config: object) => PromHistogram;
}
export interface PromCounter {
  inc(value?: number): void;
  inc(labels: Record<string, string>, value?: number): void;
  labels(...values: string[]): { inc(value?: number): void };
}
export interface PromGauge {
  set(value: number): void;
}
export interface PromHistogram {
  labels(...values: string[]): { observe(value: number): void };
}

/**
 * Loads prom-client, only when the `metrics` option asks for it: an app without metrics never loads
 * it, and an app that asks for metrics without installing it fails at boot, naming the option.
 */
export function loadPromClient(): PromClient {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as PromClient;
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code !== 'MODULE_NOT_FOUND') throw error;
    throw new SessionConfigError('metrics', 'needs the optional peer dependency "prom-client": run `npm install prom-client`, or leave "metrics" unset');
  }
}
