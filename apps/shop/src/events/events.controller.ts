import { Controller, Get } from '@nestjs/common';
import { RecentSessionEvents, type RecentSessionEvent } from './recent-session-events';

/** The live list of session events on the page; the global AuthenticatedGuard answers 401 to visitors who are not logged in. */
@Controller('api/events')
export class EventsController {
  constructor(private readonly recent: RecentSessionEvents) {}

  @Get()
  list(): RecentSessionEvent[] {
    return this.recent.list();
  }
}
