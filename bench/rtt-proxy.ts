import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * Child process entry: a TCP proxy on a free port of 127.0.0.1 that forwards every connection to
 * BENCH_PROXY_TARGET (host:port) and holds each chunk, in each direction, for half of
 * BENCH_PROXY_RTT_MS before passing it on, in the order it came: the round trip of a network between
 * the app and Redis. Tells the bench its port over IPC (`ready`), then runs until told to `stop`.
 *
 * Node's timers fire to the millisecond at best, and a round trip here is a fraction of one: a timer
 * wakes the proxy until about a millisecond before the next chunk is due, then it polls (between
 * I/O, with setImmediate) until it is. So the proxy burns CPU only while a chunk is less than a
 * millisecond from due, and a chunk leaves within a few µs of its time.
 */
class Delayed {
  private readonly queue: Array<{ due: number; chunk: Buffer }> = [];
  private ending = false;

  constructor(
    private readonly to: Socket,
    private readonly delayMs: number,
  ) {}

  push(chunk: Buffer): void {
    this.queue.push({ due: performance.now() + this.delayMs, chunk });
    schedule(this);
  }

  /** The source ended: end the destination once every chunk held has left. */
  end(): void {
    this.ending = true;
    schedule(this);
  }

  /** Writes what is due; answers when the next chunk is due (Infinity: nothing held). */
  flush(now: number): number {
    while (this.queue.length && this.queue[0].due <= now) this.to.write(this.queue.shift()!.chunk);
    if (this.queue.length) return this.queue[0].due;
    if (this.ending && !this.to.destroyed) this.to.end();
    return Infinity;
  }
}

const pending = new Set<Delayed>();
let timer: NodeJS.Timeout | undefined;
let polling = false;
/** Below this many ms to the next due chunk the proxy polls instead of sleeping on a timer. */
const POLL_WITHIN_MS = 1.2;

function schedule(pipe: Delayed): void {
  pending.add(pipe);
  if (!polling && !timer) pump();
}

function pump(): void {
  timer = undefined;
  polling = false;
  const now = performance.now();
  let next = Infinity;
  for (const pipe of pending) {
    const due = pipe.flush(now);
    if (due === Infinity) pending.delete(pipe);
    else next = Math.min(next, due);
  }
  if (next === Infinity) return;
  if (next - now > POLL_WITHIN_MS) timer = setTimeout(pump, Math.floor(next - now - POLL_WITHIN_MS + 0.2));
  else {
    polling = true;
    setImmediate(pump);
  }
}

function main(): void {
  const [host, port] = (process.env.BENCH_PROXY_TARGET ?? '').split(':');
  const rtt = Number(process.env.BENCH_PROXY_RTT_MS);
  if (!host || !Number(port) || !(rtt >= 0)) throw new Error('BENCH_PROXY_TARGET (host:port) and BENCH_PROXY_RTT_MS (ms) are required');
  const server = createServer((client) => {
    const upstream = createConnection({ host, port: Number(port) });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const up = new Delayed(upstream, rtt / 2);
    const down = new Delayed(client, rtt / 2);
    client.on('data', (chunk: Buffer) => up.push(chunk));
    upstream.on('data', (chunk: Buffer) => down.push(chunk));
    client.on('end', () => up.end());
    upstream.on('end', () => down.end());
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', () => upstream.end());
    upstream.on('close', () => client.end());
  });
  server.listen(0, '127.0.0.1', () => process.send!({ type: 'ready', port: (server.address() as AddressInfo).port }));
  process.on('message', (message: { type: string }) => {
    if (message.type === 'stop') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
}

main();
