import Redis, { type RedisOptions } from 'ioredis';

/** A command MONITOR reported: its name and arguments as Redis printed them, and who ran it ('lua' for a script). */
export type MonitoredCommand = (time: string, args: string[], source: string) => void;

/**
 * ioredis (5 and 6) switches a connection to monitoring mode one tick after MONITOR answers OK. A
 * command another client runs right then comes back in the same read, before the switch, finds no
 * command of ours waiting for it and is emitted as an error, "Command queue state error". Its
 * monitor() rejects on that, and throws an unhandled 'error' event when a second line follows. The
 * connection itself is sound: MONITOR is on and every later line arrives as monitor data. The lines
 * lost are commands from before openMonitor resolved, which no test counts.
 */
const LINE_BEFORE_MONITORING_MODE = 'Command queue state error';

/**
 * Opens a MONITOR connection to one Redis node and calls `onCommand` for every command the node
 * runs from the moment this resolves. Disconnect the returned client to stop. Use this rather than
 * ioredis's monitor(), which fails at random when another client is busy (see above).
 */
export function openMonitor(target: string | RedisOptions, onCommand: MonitoredCommand): Promise<Redis> {
  const options: RedisOptions = { monitor: true, lazyConnect: false };
  const monitor = typeof target === 'string' ? new Redis(target, options) : new Redis({ ...target, ...options });
  return new Promise((resolve, reject) => {
    let open = false;
    // Listened to for the connection's whole life: an 'error' emitted with no listener would throw.
    monitor.on('error', (error: Error) => {
      if (open || error.message.startsWith(LINE_BEFORE_MONITORING_MODE)) return;
      monitor.disconnect();
      reject(error);
    });
    monitor.once('monitoring', () => {
      open = true;
      monitor.on('monitor', onCommand);
      resolve(monitor);
    });
  });
}
