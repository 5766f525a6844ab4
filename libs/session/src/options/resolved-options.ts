import type { SessionRedisOption, SessionRoute } from './session-options.interface';

/** Options after validation, with every default filled in; internal to the library. */
export interface ResolvedSessionOptions {
  secrets: string[];
  redis: SessionRedisOption;
  prefix: string;
  cookie: {
    name: string;
    httpOnly: boolean;
    sameSite: boolean | 'lax' | 'strict' | 'none';
    secure: boolean | 'auto';
    path: string;
    domain?: string;
    maxAge?: number;
  };
  idleTimeout: number;
  /** 0 means no absolute timeout. */
  absoluteTimeout: number;
  /** 0 means no limit. */
  maxSessionsPerUser: number;
  onLimit: 'evict-oldest' | 'reject';
  lastSeenInterval: number;
  commandTimeout: number;
  maxSessionBytes: number;
  updateRetries: number;
  trustProxy?: boolean;
  forRoutes?: SessionRoute[];
  exclude: SessionRoute[];
}
