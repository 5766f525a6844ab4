import type { INestApplication } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { SessionEvents, type SessionEvent } from '@app/session';
import { waitUntil } from '../../support/probe';
import { digestOf } from '../../support/key-scheme';

/** Every event one app's `SessionEvents` delivers, in order, from the moment it was made. */
export class EventLog {
  readonly events: SessionEvent[] = [];
  private readonly subscription: Subscription;

  constructor(app: INestApplication) {
    this.subscription = app.get(SessionEvents).subscribe((event) => this.events.push(event));
  }

  /** Polls until an event matches (no timing assumption), and answers it. */
  async waitFor(what: string, match: (event: SessionEvent) => boolean, timeoutMs?: number): Promise<SessionEvent> {
    await waitUntil(what, () => Promise.resolve(this.events.some(match)), { timeoutMs });
    return this.events.find(match)!;
  }

  /** The events as `type digest user`, the fields that say what happened to whom. */
  summary(): string[] {
    return this.events.map((event) => [event.type, event.digest, event.userId ?? '-', (event as { previousDigest?: string }).previousDigest ?? '-'].join(' '));
  }

  stop(): void {
    this.subscription.unsubscribe();
  }
}

/** The session ID a `sid=s%3A<id>.<signature>` cookie carries. */
export function sessionIdOf(cookie: string): string {
  return decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];
}

/** The digest that names a cookie's session in Redis and in events. */
export function digestOfCookie(cookie: string): string {
  return digestOf(sessionIdOf(cookie));
}
