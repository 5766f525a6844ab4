import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { SessionEvents, type SessionEvent, type SessionEventType } from 'nest-redis-session';

/** One line of the page's live list: what happened, to which session (a short digest), whose, where and when. */
export interface RecentSessionEvent {
  type: SessionEventType;
  /** The first 8 characters of the session's digest: enough to follow one session down the list. */
  session: string;
  /** The user the event names; null for an event that names none (an expiry Redis reported, the visit before a login). */
  userId: string | null;
  replica: string;
  at: string;
}

const KEPT_PER_USER = 20;
// Bounds on what one replica remembers, so that many users (or a flood of anonymous visits) cannot grow it without end.
const USERS_KEPT = 1_000; // the users with the latest events; a list unused for longer is dropped
const OWNERS_KEPT = 10_000; // whose each recent session is
const VISITS_KEPT = 1_000; // sessions with no user yet, until a login claims them

/**
 * The last few events of each user's own sessions, for the page's live list. This replica hears its
 * own events and (with `events.crossReplica`) every other replica's, so any replica answers the same.
 *
 * A user sees the events of their own sessions only, never another user's. Some events name no user:
 * an expiry Redis reported names only the session, and a visitor's session is created before its
 * login. Each session's owner is remembered from the events that do name one (a login names the
 * session it left too), so those events reach the right list, or none.
 */
@Injectable()
export class RecentSessionEvents implements OnModuleDestroy {
  /** User ID → that user's lines, newest first. */
  private readonly byUser = new Map<string, RecentSessionEvent[]>();
  /** Session digest → its user. */
  private readonly owners = new Map<string, string>();
  /** Session digest → the lines of a session that has no user yet, newest first. */
  private readonly visits = new Map<string, RecentSessionEvent[]>();
  private readonly subscription: Subscription;

  constructor(events: SessionEvents) {
    this.subscription = events.subscribe((event) => this.record(event));
  }

  /** The user's lines, newest first; an empty list for a user with none. */
  listFor(userId: string | number): RecentSessionEvent[] {
    return [...(this.byUser.get(String(userId)) ?? [])];
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }

  private record(event: SessionEvent): void {
    const line: RecentSessionEvent = {
      type: event.type,
      session: event.digest.slice(0, 8),
      userId: event.userId ?? null,
      replica: event.replica,
      at: new Date(event.at).toISOString(),
    };
    // The session this one continues under a new ID (login, renewal): the same user's.
    const previous = event.type === 'created' || event.type === 'login' ? event.previousDigest : undefined;
    const userId = event.userId ?? this.owners.get(event.digest) ?? (previous && this.owners.get(previous));
    if (userId === undefined) {
      remember(this.visits, event.digest, [line, ...(this.visits.get(event.digest) ?? [])], VISITS_KEPT);
      return;
    }
    remember(this.owners, event.digest, userId, OWNERS_KEPT);
    if (previous) remember(this.owners, previous, userId, OWNERS_KEPT);
    // The visit this session was before its login is the user's too, from its start.
    const claimed = [event.digest, previous].flatMap((digest) => (digest ? take(this.visits, digest) : []));
    const lines = [line, ...claimed, ...(this.byUser.get(userId) ?? [])].sort(newestFirst).slice(0, KEPT_PER_USER);
    remember(this.byUser, userId, lines, USERS_KEPT);
  }
}

/** Sets `key` as the newest entry of `map`, dropping the oldest beyond `limit` (a Map keeps insertion order). */
function remember<V>(map: Map<string, V>, key: string, value: V, limit: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > limit) map.delete(map.keys().next().value!);
}

/** The lines kept under `digest`, removed from `map`. */
function take(map: Map<string, RecentSessionEvent[]>, digest: string): RecentSessionEvent[] {
  const lines = map.get(digest) ?? [];
  map.delete(digest);
  return lines;
}

function newestFirst(a: RecentSessionEvent, b: RecentSessionEvent): number {
  return b.at.localeCompare(a.at);
}
