import { Cluster, Redis } from 'ioredis';
import { createRedisConnection } from './create-redis-connection';

// Settings of the clients the module makes; none of them connects (lazyConnect), so no Redis is needed.
describe('createRedisConnection', () => {
  it('makes a standalone or Sentinel client that sends each command as it comes (no auto-pipelining), fails fast offline and bounds each wait', () => {
    const { client, owned } = createRedisConnection({ host: '127.0.0.1', port: 1, lazyConnect: true }, 750);
    try {
      expect(owned).toBe(true);
      expect(client).toBeInstanceOf(Redis);
      // Auto-pipelining cost more CPU per request than the socket writes it saved (see the function's comment).
      expect((client as Redis).options).toMatchObject({ enableAutoPipelining: false, enableOfflineQueue: false, commandTimeout: 750 });
    } finally {
      client.disconnect();
    }
  });

  it('leaves a client passed in as it is', () => {
    const given = new Redis({ lazyConnect: true, enableAutoPipelining: true });
    try {
      const { client, owned } = createRedisConnection(given, 750);
      expect(client).toBe(given);
      expect(owned).toBe(false);
      expect(given.options.enableAutoPipelining).toBe(true);
    } finally {
      given.disconnect();
    }
  });

  it('keeps auto-pipelining on a Cluster client it makes', () => {
    const { client } = createRedisConnection({ cluster: [{ host: '127.0.0.1', port: 1 }], options: { lazyConnect: true } }, 750);
    try {
      expect(client).toBeInstanceOf(Cluster);
      expect((client as Cluster).options.enableAutoPipelining).toBe(true);
    } finally {
      client.disconnect();
    }
  });
});
