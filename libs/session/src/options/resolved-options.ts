import type { ResolvedMetricsOptions } from './metrics-options';
import type { ResolvedStorageOptions } from './resolved-storage-options';
import type { SessionRedisOption, SessionRoute, SessionUserId } from './session-options.interface';

/** `SessionModule`'s options after validation, with every default filled in; what `SESSION_OPTIONS` injects. */
export interface ResolvedSessionOptions extends ResolvedStorageOptions {
  secrets: string[];
  redis: SessionRedisOption;
  /** Where the ID travels; `header` is the header's name as given (requests read it case-insensitively). */
  idFrom: { cookie: boolean; header?: string };
  users: {
    /** Undefined: the default (`session.user.id`, else passport's). */
    id?: SessionUserId;
    /** 0 means no limit. */
    maxSessions: number;
    onLimit: 'evict-oldest' | 'reject';
  };
  updateRetries: number;
  trustProxy?: boolean;
  forRoutes?: SessionRoute[];
  exclude: SessionRoute[];
  /** Undefined when metrics are off. */
  metrics?: ResolvedMetricsOptions;
  /** Undefined: decided at boot (see `SessionModuleOptions.tracing`). */
  tracing?: boolean;
  /** Undefined when the near cache is off. */
  nearCache?: { maxEntries: number; maxBytes: number; maxEntryAge: number };
  events: { crossReplica: boolean; expired: 'off' | 'listen' | 'configure'; replica: string };
  /** `allowedOrigins` as origins (`new URL(o).origin`), compared to a handshake's `Origin` as they are. */
  sockets: { allowedOrigins: string[] };
}
