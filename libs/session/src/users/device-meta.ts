import type { Request } from 'express';
import { FIELD } from '../redis/session-fields';

const MAX_USER_AGENT = 256; // bytes enough to tell devices apart; longer ones are cut to bound the session

/** Device metadata kept with a logged-in session, for the user's list of sessions. */
export function deviceMeta(req: Request, now: number): Record<string, string> {
  return {
    [FIELD.lastSeenAt]: String(now),
    [FIELD.userAgent]: String(req.headers['user-agent'] ?? '').slice(0, MAX_USER_AGENT),
    [FIELD.ip]: req.ip ?? req.socket?.remoteAddress ?? '',
  };
}
