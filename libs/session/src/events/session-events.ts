import { Observable, Subject } from 'rxjs';
import type { SessionObserver } from '../redis/session-observer';
import type { SessionEvent, SessionEventFacts } from './session-event';

/**
 * The sessions' lifecycle as an RxJS `Observable`: `created`, `login`, `logout`, `revoked`,
 * `destroyed`, `expired`, each with the session's digest (never its ID, never its data), the user
 * where known, the replica that saw it and the time. Inject it and subscribe:
 * @example
 * constructor(events: SessionEvents) {
 *   events.pipe(filter((event) => event.type === 'login')).subscribe((event) => audit.log(event));
 * }
 *
 * Local events come from this replica; `events.crossReplica` adds every other replica's, and
 * `events.expired` the expiries Redis reports. Subscribers run synchronously, after the change is
 * in Redis: keep them quick, or hand the work on.
 */
export class SessionEvents extends Observable<SessionEvent> {
  private readonly subject: Subject<SessionEvent>;
  private readonly relays: ((event: SessionEvent) => void)[] = [];

  /** @param replica this replica's name, set on the events it sees (`events.replica`) */
  constructor(readonly replica: string) {
    const subject = new Subject<SessionEvent>();
    super((subscriber) => subject.subscribe(subscriber));
    this.subject = subject;
  }

  /** @internal the observer the session code reports to (see `SessionObserver.sessionEvent`). */
  observer(): SessionObserver {
    return { sessionEvent: (facts) => this.record(facts) };
  }

  /** @internal passes every event this replica records on to `relay` too (the cross-replica channel). */
  relayTo(relay: (event: SessionEvent) => void): void {
    this.relays.push(relay);
  }

  /** @internal delivers an event seen elsewhere (another replica, Redis) to the subscribers only. */
  deliver(event: SessionEvent): void {
    this.subject.next(event);
  }

  /** @internal an event this replica saw itself: to the subscribers and the relays. */
  record(facts: SessionEventFacts): void {
    // Nobody listens and nothing relays (the default): not even the event object is built.
    if (!this.subject.observed && this.relays.length === 0) return;
    const event = { ...facts, replica: this.replica, at: Date.now() } as SessionEvent;
    // Absent facts stay absent: the JSON on the wire and what subscribers see are the same.
    if (event.userId === undefined) delete event.userId;
    if ((event as { previousDigest?: string }).previousDigest === undefined) delete (event as { previousDigest?: string }).previousDigest;
    this.subject.next(event);
    for (const relay of this.relays) relay(event);
  }
}
