import type { Cluster, Redis } from 'ioredis';

/** What the app's Redis client sent, for the bench to divide by requests served. */
export interface RedisCounts {
  /** Commands written to Redis (an EVALSHA counts once, whatever the script does inside). */
  sent: number;
  /** Round trips while tracing: a command sent while none of this client's commands was in flight starts one. */
  roundTrips: number;
}

/**
 * Counts the commands an ioredis client sends, by wrapping its `sendCommand`, through which every
 * command passes, pipelined or not. Round trips are traced only on request (the bench does it with
 * one sequential request at a time): tracing costs a promise callback per command.
 */
export function countRedisCommands(client: Redis | Cluster): { counts: RedisCounts; trace(on: boolean): void } {
  const counts: RedisCounts = { sent: 0, roundTrips: 0 };
  let tracing = false;
  let inFlight = 0;
  const done = () => {
    inFlight--;
  };
  const target = client as unknown as { sendCommand(command: { promise: Promise<unknown> }, ...rest: unknown[]): unknown };
  const original = target.sendCommand;
  target.sendCommand = function (command, ...rest) {
    counts.sent++;
    if (tracing) {
      if (inFlight === 0) counts.roundTrips++;
      inFlight++;
      command.promise.then(done, done);
    }
    return original.call(this, command, ...rest);
  };
  return {
    counts,
    trace(on: boolean) {
      tracing = on;
      inFlight = 0;
    },
  };
}
