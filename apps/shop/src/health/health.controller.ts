import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Cluster, Redis } from 'ioredis';
import { InjectSessionRedis, Public } from '@app/session';
import { SHOP_CONFIG, type ShopConfig } from '../config/shop-config';

const PING_TIMEOUT_MS = 500; // well under the contract's one second, so a load balancer hears it in time

/** For load balancers and orchestrators: this replica is useful only while it can reach the sessions. */
@Public()
@Controller('health')
export class HealthController {
  private readonly replicaId: string;

  constructor(
    @InjectSessionRedis() private readonly redis: Redis | Cluster,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.replicaId = config.getOrThrow<ShopConfig>(SHOP_CONFIG).replicaId;
  }

  @Get()
  async check(): Promise<{ status: 'ok'; replica: string }> {
    await this.ping();
    return { status: 'ok', replica: this.replicaId };
  }

  private async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer PING within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.redis.ping(), timeout]);
    } catch (error) {
      throw new ServiceUnavailableException(`Session store unavailable: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
