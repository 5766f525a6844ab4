import type { SessionUserId } from '../users/user-id';
import type { SessionRedisOption, SessionRoute } from './session-options.interface';
import type { ResolvedMetricsOptions } from '../metrics/metrics-options';
import type { ResolvedEncryption } from '../store/field-sealer';

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
  idFrom: 'cookie' | 'header' | 'both';
  /** The ID header's name, as given (responses use it; requests are read case-insensitively). */
  header: string;
  idleTimeout: number;
  /** 0 means no absolute timeout. */
  absoluteTimeout: number;
  /** 0 means no limit. */
  maxSessionsPerUser: number;
  userId: SessionUserId;
  onLimit: 'evict-oldest' | 'reject';
  /** Ms a session's expiry must gain before a read slides it. */
  touchAfter: number;
  commandTimeout: number;
  /** Undefined when off. */
  durability?: { replicas: number; timeout: number };
  /** Undefined when off. */
  encryption?: ResolvedEncryption;
  maxSessionBytes: number;
  updateRetries: number;
  /** Undefined when periodic ID renewal is off. */
  renewal?: { interval: number; grace: number };
  trustProxy?: boolean;
  forRoutes?: SessionRoute[];
  exclude: SessionRoute[];
  /** Undefined when metrics are off. */
  metrics?: ResolvedMetricsOptions;
  /** Undefined: decided at boot (see `SessionModuleOptions.tracing`). */
  tracing?: boolean;
  /** Undefined when the near cache is off. */
  nearCache?: { maxEntries: number; maxBytes: number; maxAge: number };
  events: { crossReplica: boolean; expired: boolean; enableKeyspaceEvents: boolean; replica: string };
}
