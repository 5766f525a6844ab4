import { hostname } from 'node:os';
import { SessionConfigError } from '../errors/session-config.error';
import { oneOf, optionalBoolean, optionalObject } from './option-checks';
import type { ResolvedSessionOptions } from './resolved-options';

/** The replica name events carry when `events.replica` is unset: unique per process on one host. */
export function defaultReplicaName(): string {
  return `${hostname()}:${process.pid}`;
}

/** Validates `events` at boot, naming the field at fault; unset, only this replica's own events. */
export function resolveEventsOption(option: unknown): ResolvedSessionOptions['events'] {
  const events = optionalObject('events', option, ['crossReplica', 'expired', 'replica']) ?? {};
  const expired = oneOf('events.expired', events.expired, [true, false, 'configure'] as const) ?? false;
  const { replica } = events;
  if (replica !== undefined && (typeof replica !== 'string' || replica.trim().length === 0 || replica.length > 200)) {
    throw new SessionConfigError('events.replica', `must be a non-empty string of at most 200 characters; got ${JSON.stringify(replica)}`);
  }
  return {
    crossReplica: optionalBoolean('events.crossReplica', events.crossReplica) ?? false,
    expired: expired === 'configure' ? 'configure' : expired ? 'listen' : 'off',
    replica: replica ?? defaultReplicaName(),
  };
}
