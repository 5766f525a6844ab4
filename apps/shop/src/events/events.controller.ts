import { Controller, Get } from '@nestjs/common';
import { Session, type AppSession } from 'nest-redis-session';
import { RecentSessionEvents, type RecentSessionEvent } from './recent-session-events';

/**
 * The page's live list: the latest events of the logged-in user's own sessions, never another user's.
 * The global AuthenticatedGuard answers 401 to visitors who are not logged in.
 */
@Controller('api/events')
export class EventsController {
  constructor(private readonly recent: RecentSessionEvents) {}

  @Get()
  list(@Session() session: AppSession): RecentSessionEvent[] {
    return this.recent.listFor(session.user!.id);
  }
}
