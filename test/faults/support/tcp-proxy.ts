import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { LOCALHOST } from '../../support/ports';

/** A TCP proxy to one server that can stop forwarding for a while: a network stall, with every connection kept open. */
export interface StallableProxy {
  port: number;
  /** Holds every byte in both directions for `ms`, then delivers what was held, in order. */
  stall(ms: number): void;
  close(): Promise<void>;
}

export async function startStallableProxy(target: { host: string; port: number }): Promise<StallableProxy> {
  let stalledUntil = 0;
  const sockets = new Set<Socket>();
  const waiting: (() => void)[] = [];
  const forward = (from: Socket, to: Socket) => {
    from.on('data', (chunk: Buffer) => {
      if (Date.now() >= stalledUntil && waiting.length === 0) return void to.write(chunk);
      from.pause(); // back-pressure while stalled keeps the order of bytes
      waiting.push(() => {
        to.write(chunk);
        from.resume();
      });
    });
  };
  const server: Server = createServer((client) => {
    const upstream = createConnection(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, LOCALHOST, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    stall(ms: number) {
      stalledUntil = Date.now() + ms;
      setTimeout(() => {
        for (let release = waiting.shift(); release; release = waiting.shift()) release();
      }, ms).unref();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
