import { defineScript, unexpectedReply } from './lua-script';

/** One activity bucket's additions (see `SessionGateway.addActivity`). */
export interface ActivityArgs {
  /** The bucket's two HyperLogLogs, in one slot (`activityRedisKeys`). */
  sessionsKey: string;
  usersKey: string;
  /** Ms the bucket's keys live. */
  ttl: number;
  digests: string[];
  userIds: string[];
}

/**
 * Feeds the activity HyperLogLogs behind `sessions_active` and `session_users_active`, setting
 * every key's expiry in the step that creates it (lua/activity-add.lua). Answers 1.
 */
export const ACTIVITY_ADD = defineScript({
  name: 'sessionActivityAdd',
  file: 'activity-add',
  keys: 2,
  args: ({ sessionsKey, usersKey, ttl, digests, userIds }: ActivityArgs) => [sessionsKey, usersKey, ttl, digests.length, ...digests, ...userIds],
  parse: (reply, name): number => {
    if (reply === 1) return reply;
    throw unexpectedReply(name, reply, '1');
  },
});
