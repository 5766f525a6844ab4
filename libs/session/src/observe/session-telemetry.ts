import type { ResolvedSessionOptions } from '../options/resolved-options';
import type { SessionObservers, SessionObserver } from '../redis/session-observer';
import type { SessionGateway } from '../redis/session-gateway';
import type { NearCache } from '../cache/near-cache';
import { ActiveSessions } from '../metrics/active-sessions';
import { loadPromClient } from '../metrics/load-prom-client';
import { SessionMetrics } from '../metrics/session-metrics';
import { createSessionTracing } from '../tracing/session-tracing';
import { combineObservers } from '../redis/session-observer';

/**
 * Metrics and traces of one SessionModule, as its options ask: built at boot (so a missing optional
 * dependency fails the deployment, naming the option), joined to the session observers, and closed at
 * shutdown. With `metrics` unset and no tracing, it attaches nothing and prom-client is never loaded.
 */
export class SessionTelemetry {
  private constructor(
    private readonly metrics: SessionMetrics | undefined,
    private readonly activity: ActiveSessions | undefined,
  ) {}

  static attach(
    options: ResolvedSessionOptions,
    gateway: SessionGateway,
    nearCache: NearCache | undefined,
    sessionObservers: SessionObservers,
    logger: { warn(message: string): void },
  ): SessionTelemetry {
    const observers: SessionObserver[] = [];
    const tracing = createSessionTracing(options.tracing);
    // Tracing outermost: a span then covers the time the metrics measure.
    if (tracing) observers.push(tracing);
    let metrics: SessionMetrics | undefined;
    let activity: ActiveSessions | undefined;
    if (options.metrics) {
      const prom = loadPromClient();
      activity = new ActiveSessions(gateway, { prefix: options.prefix, window: options.idleTimeout, logger });
      metrics = new SessionMetrics(prom, options.metrics, activity, nearCache);
      activity.start();
      observers.push(metrics);
    }
    sessionObservers.add(combineObservers(observers));
    return new SessionTelemetry(metrics, activity);
  }

  /** Sends what the activity estimate still holds and takes the metrics out of their registry. */
  async close(): Promise<void> {
    await this.activity?.stop();
    this.metrics?.unregister();
  }
}
