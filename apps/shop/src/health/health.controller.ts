import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { PublicRoute } from 'nest-redis-session';
import { SessionHealthIndicator } from 'nest-redis-session/health';
import { ShopEnvironment } from '../config/shop-environment';

const CHECK_TIMEOUT_MS = 500; // well under the contract's one second, so a load balancer hears it in time

/**
 * For load balancers and orchestrators (readiness): this replica is useful only while it can reach
 * the sessions and write them. Backed by the library's Terminus indicator; the answer keeps the
 * contract's `{ status, replica }`.
 */
@PublicRoute()
@Controller('health')
export class HealthController {
  constructor(
    private readonly session: SessionHealthIndicator,
    private readonly env: ShopEnvironment,
  ) {}

  @Get()
  async check(): Promise<{ status: 'ok'; replica: string; platform: 'express' | 'fastify' }> {
    // An evicting policy is a warning here, not an outage: a demo Redis must not take every replica out of rotation.
    const result = await this.session.isHealthy('session', { timeout: CHECK_TIMEOUT_MS, evictionPolicy: 'warn' });
    const { status, message } = result.session as { status: string; message?: string };
    if (status !== 'up') throw new ServiceUnavailableException(`Session store unavailable: ${message ?? 'unhealthy'}`);
    return { status: 'ok', replica: this.env.REPLICA_ID, platform: this.env.HTTP_PLATFORM };
  }
}
