import { hostname } from 'node:os';
import { SessionConfigError } from '../errors/session-config.error';
import type { ResolvedSessionOptions } from './resolved-options';
import type { SessionEventsOptions } from './session-options.interface';

const KNOWN = ['crossReplica', 'expired', 'enableKeyspaceEvents', 'replica'];

/** The replica name events carry when `events.replica` is unset: unique per process on one host. */
export function defaultReplicaName(): string {
  return `${hostname()}:${process.pid}`;
}

/** Validates `events` at boot, naming the field at fault; unset, only this replica's own events. */
export function resolveEventsOption(value: SessionEventsOptions | undefined): ResolvedSessionOptions['events'] {
  if (value === undefined) return { crossReplica: false, expired: false, enableKeyspaceEvents: false, replica: defaultReplicaName() };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SessionConfigError('events', `must be an object { crossReplica, expired, enableKeyspaceEvents, replica }; got ${String(value)}`);
  }
  const unknown = Object.keys(value).find((key) => !KNOWN.includes(key));
  if (unknown) throw new SessionConfigError(`events.${unknown}`, `is not an option; the options are ${KNOWN.join(', ')}`);
  const crossReplica = flag('events.crossReplica', value.crossReplica);
  const expired = flag('events.expired', value.expired);
  const enableKeyspaceEvents = flag('events.enableKeyspaceEvents', value.enableKeyspaceEvents);
  if (enableKeyspaceEvents && !expired) {
    throw new SessionConfigError('events.enableKeyspaceEvents', 'only applies with "events.expired": true');
  }
  const { replica } = value;
  if (replica !== undefined && (typeof replica !== 'string' || replica.trim().length === 0 || replica.length > 200)) {
    throw new SessionConfigError('events.replica', `must be a non-empty string of at most 200 characters; got ${JSON.stringify(replica)}`);
  }
  return { crossReplica, expired, enableKeyspaceEvents, replica: replica ?? defaultReplicaName() };
}

function flag(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  throw new SessionConfigError(name, `must be true or false; got ${JSON.stringify(value)}`);
}
