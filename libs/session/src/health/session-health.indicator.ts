import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { Cluster, Redis } from 'ioredis';
import { SESSION_REDIS } from '../session.constants';
import { probeSessionStore, type SessionHealthOptions } from './probe-session-store';

/**
 * A `@nestjs/terminus` health indicator for the session store: PING latency, the node's role (a
 * replica after a failover is down), the cluster state, and the eviction policy (an evicting policy is
 * down, or a warning with `evictionPolicy: 'warn'`). Answers within `timeout` even while Redis hangs.
 * Meant for readiness, not liveness: restarting a replica does not bring Redis back.
 *
 * @example
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.session.isHealthy('session')]); }
 */
@Injectable()
export class SessionHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(SESSION_REDIS) private readonly redis: Redis | Cluster,
  ) {}

  async isHealthy<const Key extends string = 'session'>(key: Key = 'session' as Key, options: SessionHealthOptions = {}): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.health.check(key);
    const { problems, warnings, ...facts } = await probeSessionStore(this.redis, options);
    const details = { ...facts, ...(warnings.length > 0 ? { warning: warnings.join('; ') } : {}) };
    if (problems.length > 0) return indicator.down({ ...details, message: problems.join('; ') });
    return indicator.up(details);
  }
}
