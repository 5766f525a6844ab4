import type { Cluster, Redis } from 'ioredis';
import { COMPARE_AND_SET, INDEX_ADD, LOAD_SESSION, SAVE_SESSION, TOUCH_SESSION } from './scripts';

/** The store's scripts as typed client methods; ioredis sends EVALSHA and falls back to EVAL once. */
export interface SessionCommands {
  sessionLoad(key: string, now: number, window: number, absolute: number, seenEvery: number): Promise<[number, string[]] | null>;
  sessionSave(key: string, ...args: (string | number)[]): Promise<number>;
  sessionTouch(key: string, expireAt: number, now: number, absolute: number): Promise<number>;
  sessionCompareAndSet(key: string, ...args: (string | number)[]): Promise<[number, string | null] | [number]>;
  sessionIndexAdd(key: string, ...args: (string | number)[]): Promise<string[] | number>;
}

export type SessionClient = (Redis | Cluster) & SessionCommands;

const SCRIPTS: Record<keyof SessionCommands, string> = {
  sessionLoad: LOAD_SESSION,
  sessionSave: SAVE_SESSION,
  sessionTouch: TOUCH_SESSION,
  sessionCompareAndSet: COMPARE_AND_SET,
  sessionIndexAdd: INDEX_ADD,
};

/** Registers the scripts once per client; several stores may share one client. */
export function withSessionCommands(client: Redis | Cluster): SessionClient {
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    if (typeof (client as unknown as Record<string, unknown>)[name] !== 'function') {
      client.defineCommand(name, { numberOfKeys: 1, lua });
    }
  }
  return client as SessionClient;
}
