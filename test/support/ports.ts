import { AddressInfo, createServer, Server } from 'node:net';

export const LOCALHOST = '127.0.0.1';

/**
 * Ports the OS reports free right now. Every listener stays open until all
 * are known, so one call never hands out the same port twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, LOCALHOST, resolve);
      });
    }
    return servers.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/**
 * Runs `start` on `count` ports found free, and again on new ones (twice at most) when a server it
 * started found one taken: between the check and the bind, another test's server, or the local end
 * of any outgoing connection (they come from the same ephemeral range), may take a port.
 */
export async function onFreePorts<T>(count: number, start: (ports: number[]) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(count);
    try {
      return await start(ports);
    } catch (error) {
      if (attempt >= 3 || !/Address already in use/.test(String((error as Error)?.message))) throw error;
    }
  }
}
