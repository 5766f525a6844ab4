import { Redis, type Cluster } from 'ioredis';

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

/**
 * Counts, by command name, what every ioredis client of this process sends (the session layer's
 * duplicates too: subscriber, tracking), by wrapping the class's `sendCommand`. The latency section
 * needs it to tell the commands an app sent from those Redis ran inside its scripts, which INFO
 * commandstats counts (and times) twice: once alone, once within the script's own time.
 */
export function countEveryClientByName(): Record<string, number> {
  const byName: Record<string, number> = {};
  const proto = Redis.prototype as unknown as { sendCommand(command: { name: string }, ...rest: unknown[]): unknown };
  const original = proto.sendCommand;
  proto.sendCommand = function (command, ...rest) {
    const name = command.name.toLowerCase();
    byName[name] = (byName[name] ?? 0) + 1;
    return original.call(this, command, ...rest);
  };
  return byName;
}
