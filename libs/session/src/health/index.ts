// `nest-redis-session/health`: the Terminus health indicator, in its own entry point so that only
// apps that use it need `@nestjs/terminus` installed.

export { SessionHealthIndicator } from './session-health.indicator';
export { probeSessionStore } from './probe-session-store';
export type { SessionHealthOptions, SessionStoreHealth } from './probe-session-store';
