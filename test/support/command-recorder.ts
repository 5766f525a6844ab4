import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { openMonitor } from './monitor';

export interface RecordedCommand {
  name: string;
  args: string[];
}

const SETTLE_TIMEOUT_MS = 5_000;

/**
 * Records, through MONITOR, the commands an app sends for keys under one
 * prefix. Counting commands gives request-cost assertions that hold on any
 * machine, unlike timings.
 */
export class CommandRecorder {
  private recorded: RecordedCommand[] = [];
  private readonly markers = new Map<string, () => void>();

  private monitor?: Redis;

  private constructor(
    private readonly marker: Redis,
    private readonly keyPrefix: string,
  ) {}

  static async start(url: string, opts: { keyPrefix: string }): Promise<CommandRecorder> {
    const marker = new Redis(url, { lazyConnect: true });
    const recorder = new CommandRecorder(marker, opts.keyPrefix);
    try {
      recorder.monitor = await openMonitor(url, (_time, args, source) => recorder.observe(args, source));
      await marker.connect();
    } catch (error) {
      recorder.monitor?.disconnect();
      marker.disconnect();
      throw error;
    }
    return recorder;
  }

  /** Top-level commands (not those run inside Lua) seen since start or the last reset that touch a key under the prefix. */
  commands(): RecordedCommand[] {
    return this.recorded.map(({ name, args }) => ({ name, args: [...args] }));
  }

  /**
   * MONITOR streams asynchronously, so a command the app has already had a
   * reply for may not have reached us yet. Redis feeds MONITOR in execution
   * order, so once a PING sent afterwards shows up, everything before it has.
   */
  async settle(): Promise<RecordedCommand[]> {
    const id = `command-recorder-settle:${randomUUID()}`;
    const seen = new Promise<void>((resolve) => this.markers.set(id, resolve));
    const timeout = new AbortController();
    try {
      await this.marker.ping(id);
      const settled = await Promise.race([seen.then(() => true), delay(SETTLE_TIMEOUT_MS, false, { signal: timeout.signal })]);
      if (!settled) throw new Error(`MONITOR did not deliver the settle marker within ${SETTLE_TIMEOUT_MS} ms`);
    } finally {
      timeout.abort();
      this.markers.delete(id);
    }
    return this.commands();
  }

  reset(): void {
    this.recorded = [];
  }

  stop(): Promise<void> {
    this.monitor?.disconnect();
    this.marker.disconnect();
    return Promise.resolve();
  }

  private observe([command, ...args]: string[], source: string): void {
    if (command.toUpperCase() === 'PING' && this.markers.has(args[0])) return this.markers.get(args[0])!();
    // Commands a script runs are part of the script's cost, already counted as its EVAL/EVALSHA.
    if (source === 'lua') return;
    if (args.some((arg) => arg.startsWith(this.keyPrefix))) this.recorded.push({ name: command.toUpperCase(), args });
  }
}
