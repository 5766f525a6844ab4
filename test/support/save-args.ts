import type { RecordedCommand } from './command-recorder';

/**
 * A session save as sent to Redis (EVALSHA of save-session.lua), read by its ARGV layout: key,
 * mode, expire-at, now, min gain, expected expiry, n, n field/value pairs, then the fields to delete. One reader of
 * that layout for every test that looks at what a save wrote, so an argument added to the script
 * changes one place.
 */
export interface RecordedSave {
  key: string;
  mode: string;
  expiresAt: number;
  minGain: number;
  /** Flat [field, value, …]. */
  set: string[];
  del: string[];
}

/** Whether a recorded command is a session save (its mode argument says so). */
export function isSave({ name, args }: RecordedCommand): boolean {
  return name.startsWith('EVAL') && (args[3] === 'patch' || args[3] === 'replace');
}

/** The save a recorded `EVALSHA sha 1 key mode …` made. */
export function saveOf({ args }: RecordedCommand): RecordedSave {
  const [, , key, mode, expiresAt, , minGain, , count, ...rest] = args;
  const pairs = 2 * Number(count);
  return { key, mode, expiresAt: Number(expiresAt), minGain: Number(minGain), set: rest.slice(0, pairs), del: rest.slice(pairs) };
}
