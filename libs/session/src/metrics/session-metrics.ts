import { performance } from 'node:perf_hooks';
import { SessionConfigError } from '../errors/session-config.error';
import { resultOfError, type SessionEndReason, type SessionObserver, type StoreCallFacts, type StoreOperation } from '../redis/session-observer';
import type { ActiveSessions } from './active-sessions';
import type { PromClient, PromCounter, PromGauge, PromHistogram } from './load-prom-client';
import type { MetricsRegistry, ResolvedMetricsOptions } from '../options/metrics-options';

/** Metric names without the user's prefix; the README's "Operations" table describes each. */
export const SESSION_METRIC_NAMES = {
  storeDuration: 'session_store_duration_seconds',
  requestsUnavailable: 'session_requests_unavailable_total',
  created: 'sessions_created_total',
  ended: 'sessions_ended_total',
  logins: 'session_logins_total',
  renewals: 'session_id_renewals_total',
  updateConflicts: 'session_update_conflicts_total',
  updateRetries: 'session_update_retries_total',
  durabilityShortfalls: 'session_durability_shortfalls_total',
  active: 'sessions_active',
  usersActive: 'session_users_active',
  nearCacheReads: 'session_near_cache_reads_total',
  nearCacheInvalidations: 'session_near_cache_invalidations_total',
  nearCacheFlushes: 'session_near_cache_flushes_total',
  nearCacheEntries: 'session_near_cache_entries',
  nearCacheBytes: 'session_near_cache_bytes',
} as const;

/** What the metrics read from the near cache, when it is on. */
export interface NearCacheGauges {
  readonly stats: { entries: number; bytes: number };
}

/** Why the near cache flushes, each shown from the first scrape (see `FlushReason`). */
const FLUSH_REASONS = ['flushall', 'connection', 'topology', 'heartbeat', 'late-invalidation'];

type Child = { observe(value: number): void };

/**
 * The library's Prometheus metrics: an observer of every gateway call (latency, throughput and
 * failure rate in one histogram) and of session events. No label ever holds a session ID, a digest
 * or a user id: labels are operation, result and reason, each from a short fixed list.
 */
export class SessionMetrics implements SessionObserver {
  private readonly registry: MetricsRegistry;
  private readonly names: string[] = [];
  private readonly durations: PromHistogram;
  /** Histogram children by "operation result": labels() hashes its arguments on every call. */
  private readonly children = new Map<string, Child>();
  private readonly unavailable: PromCounter;
  private readonly created: PromCounter;
  private readonly ended: PromCounter;
  private readonly logins: PromCounter;
  private readonly renewals: PromCounter;
  private readonly conflicts: PromCounter;
  private readonly retries: PromCounter;
  private readonly shortfalls: PromCounter;
  private readonly nearCacheHits?: { inc(value?: number): void };
  private readonly nearCacheMisses?: { inc(value?: number): void };
  private readonly nearCacheInvalidations?: PromCounter;
  private readonly nearCacheFlushes?: PromCounter;

  constructor(
    prom: PromClient,
    options: ResolvedMetricsOptions,
    private readonly activity: ActiveSessions,
    nearCache?: NearCacheGauges,
  ) {
    this.registry = (options.registry ?? prom.register) as MetricsRegistry;
    const define = <M>(Kind: new (config: object) => M, key: keyof typeof SESSION_METRIC_NAMES, help: string, extra: object = {}): M => {
      const name = options.prefix + SESSION_METRIC_NAMES[key];
      if (this.registry.getSingleMetric(name)) {
        throw new SessionConfigError(
          'metrics.registry',
          `already holds a metric named "${name}": give each SessionModule its own registry or "metrics.prefix"`,
        );
      }
      this.names.push(name);
      return new Kind({ name, help, registers: [this.registry], ...extra });
    };
    this.durations = define(prom.Histogram, 'storeDuration', "Duration of the session store's Redis calls, in seconds, by operation and result.", {
      labelNames: ['operation', 'result'],
      buckets: options.buckets,
    });
    this.unavailable = define(prom.Counter, 'requestsUnavailable', 'Requests answered 503 because the session store was unavailable.');
    this.created = define(prom.Counter, 'created', 'Sessions stored for the first time (new sessions, and sessions moved to a new ID at login).');
    this.ended = define(prom.Counter, 'ended', 'Sessions ended by the library, by reason (logout, regenerated, revoked, evicted, expired).', {
      labelNames: ['reason'],
    });
    // Every reason shows from the first scrape, at 0, so rate() and alerts see it before it first happens.
    for (const reason of ['logout', 'regenerated', 'revoked', 'evicted', 'expired']) this.ended.labels(reason).inc(0);
    this.logins = define(prom.Counter, 'logins', 'Completed logins.');
    this.renewals = define(prom.Counter, 'renewals', 'Session IDs replaced by periodic renewal (the `renewal` option), each counted once across replicas.');
    this.conflicts = define(prom.Counter, 'updateConflicts', 'Atomic updates that gave up (409) because the key kept changing.');
    this.retries = define(prom.Counter, 'updateRetries', 'Atomic update attempts repeated because another request changed the key.');
    this.shortfalls = define(
      prom.Counter,
      'durabilityShortfalls',
      'Security writes (login, logout, revoke, ID changes) that fewer replicas acknowledged than option durability.replicas asks for; 0 while durability is off.',
    );
    const counts = () => this.activity.count().catch(() => undefined);
    const sessions: PromGauge = define(prom.Gauge, 'active', 'Sessions used within the idle timeout, across all replicas (HyperLogLog estimate, ~1% error).', {
      async collect(this: PromGauge) {
        const now = await counts();
        if (now) this.set(now.sessions);
      },
    });
    const users: PromGauge = define(prom.Gauge, 'usersActive', 'Logged-in users with a session used within the idle timeout (HyperLogLog estimate).', {
      async collect(this: PromGauge) {
        const now = await counts();
        if (now) this.set(now.users);
      },
    });
    void sessions;
    void users;
    if (!nearCache) return;
    const reads: PromCounter = define(prom.Counter, 'nearCacheReads', 'Session reads by the near cache, by result: hit (no Redis round trip) or miss.', {
      labelNames: ['result'],
    });
    this.nearCacheHits = reads.labels('hit');
    this.nearCacheMisses = reads.labels('miss');
    this.nearCacheHits.inc(0);
    this.nearCacheMisses.inc(0);
    this.nearCacheInvalidations = define(prom.Counter, 'nearCacheInvalidations', 'Sessions the near cache dropped because Redis reported them changed.');
    this.nearCacheFlushes = define(prom.Counter, 'nearCacheFlushes', 'Times the near cache dropped everything, by reason.', { labelNames: ['reason'] });
    for (const reason of FLUSH_REASONS) this.nearCacheFlushes.labels(reason).inc(0);
    define(prom.Gauge, 'nearCacheEntries', 'Sessions the near cache holds.', {
      collect(this: PromGauge) {
        this.set(nearCache.stats.entries);
      },
    });
    define(prom.Gauge, 'nearCacheBytes', 'Bytes the near cache holds, by its own accounting (the bound of option nearCache.maxBytes).', {
      collect(this: PromGauge) {
        this.set(nearCache.stats.bytes);
      },
    });
  }

  nearCacheRead(hit: boolean): void {
    (hit ? this.nearCacheHits : this.nearCacheMisses)?.inc();
  }

  nearCacheInvalidated(): void {
    this.nearCacheInvalidations?.inc();
  }

  nearCacheFlushed(reason: string): void {
    this.nearCacheFlushes?.labels(reason).inc();
  }

  observeStoreCall<T>(operation: StoreOperation, run: () => Promise<T>, describe: (value: T) => StoreCallFacts): Promise<T> {
    const start = performance.now();
    return run().then(
      (value) => {
        this.record(operation, describe(value).result, start);
        return value;
      },
      (error: unknown) => {
        this.record(operation, resultOfError(error), start);
        throw error;
      },
    );
  }

  sessionCreated(): void {
    this.created.inc();
  }

  sessionEnded(reason: SessionEndReason, count: number): void {
    this.ended.labels(reason).inc(count);
  }

  login(): void {
    this.logins.inc();
  }

  sessionRenewed(): void {
    this.renewals.inc();
  }

  updateRetried(): void {
    this.retries.inc();
  }

  updateGaveUp(): void {
    this.conflicts.inc();
  }

  requestUnavailable(): void {
    this.unavailable.inc();
  }

  durabilityShortfall(): void {
    this.shortfalls.inc();
  }

  sessionSeen(digest: string, userId: string | undefined): void {
    this.activity.note(digest, userId);
  }

  /** Takes the metrics out of the registry, so a new module (a test, a hot reload) can register them again. */
  unregister(): void {
    for (const name of this.names) this.registry.removeSingleMetric(name);
  }

  private record(operation: StoreOperation, result: string, start: number): void {
    const key = operation + ' ' + result;
    let child = this.children.get(key);
    if (!child) this.children.set(key, (child = this.durations.labels(operation, result)));
    child.observe((performance.now() - start) / 1_000);
  }
}
