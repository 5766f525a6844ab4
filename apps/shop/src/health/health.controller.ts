import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Public } from '@app/session';
import { SessionHealthIndicator } from '@app/session/health';
import { SHOP_CONFIG, type ShopConfig } from '../config/shop-config';

const CHECK_TIMEOUT_MS = 500; // well under the contract's one second, so a load balancer hears it in time

/**
 * For load balancers and orchestrators (readiness): this replica is useful only while it can reach
 * the sessions and write them. Backed by the library's Terminus indicator; the answer keeps the
 * contract's `{ status, replica }`.
 */
@Public()
@Controller('health')
export class HealthController {
  private readonly replicaId: string;

  constructor(
    private readonly session: SessionHealthIndicator,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.replicaId = config.getOrThrow<ShopConfig>(SHOP_CONFIG).replicaId;
  }

  @Get()
  async check(): Promise<{ status: 'ok'; replica: string }> {
    // An evicting policy is a warning here, not an outage: a demo Redis must not take every replica out of rotation.
    const result = await this.session.isHealthy('session', { timeout: CHECK_TIMEOUT_MS, evictionPolicy: 'warn' });
    const { status, message } = result.session as { status: string; message?: string };
    if (status !== 'up') throw new ServiceUnavailableException(`Session store unavailable: ${message ?? 'unhealthy'}`);
    return { status: 'ok', replica: this.replicaId };
  }
}
