import { Inject } from '@nestjs/common';
import { SESSION_REDIS } from '../session.constants';

/**
 * Injects the ioredis client that holds the sessions, e.g. to share it with a rate limiter.
 * @example `constructor(@InjectSessionRedis() private readonly redis: Redis) {}`
 */
export const InjectSessionRedis = () => Inject(SESSION_REDIS);
