import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { SessionEvents, type SessionEventType } from '@app/session';

/** One line of the page's live list: what happened, to which session (a short digest), whose, where and when. */
export interface RecentSessionEvent {
  type: SessionEventType;
  /** The first 8 characters of the session's digest: enough to follow one session down the list. */
  session: string;
  userId: string | null;
  replica: string;
  at: string;
}

const KEPT = 20;

/**
 * The last few session events this replica heard, its own and (with `events.crossReplica`) every
 * other replica's, for the page's live list: any replica answers the same list.
 */
@Injectable()
export class RecentSessionEvents implements OnModuleDestroy {
  private readonly recent: RecentSessionEvent[] = [];
  private readonly subscription: Subscription;

  constructor(events: SessionEvents) {
    this.subscription = events.subscribe((event) => {
      this.recent.unshift({
        type: event.type,
        session: event.digest.slice(0, 8),
        userId: event.userId ?? null,
        replica: event.replica,
        at: new Date(event.at).toISOString(),
      });
      if (this.recent.length > KEPT) this.recent.pop();
    });
  }

  /** Newest first. */
  list(): RecentSessionEvent[] {
    return [...this.recent];
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }
}
