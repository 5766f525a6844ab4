import { hostname } from 'node:os';
import { loadShopConfig } from './shop-config';

const SECRET_A = 'a'.repeat(32);
const SECRET_B = 'b'.repeat(40);
const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');

describe('loadShopConfig', () => {
  it('fills in the contract defaults, with the development secret outside production', () => {
    expect(loadShopConfig({})).toEqual({
      port: 3000,
      redis: { kind: 'url', url: 'redis://127.0.0.1:6379' },
      sessionSecrets: [expect.any(String)],
      usesDevSecret: true,
      sessionEncryptionKeys: [expect.any(String)],
      usesDevEncryptionKey: true,
      replicaId: `${hostname()}:3000`,
    });
  });

  it('reads PORT, REDIS_URL, REPLICA_ID and a comma-separated SESSION_SECRET and SESSION_ENCRYPTION_KEYS, newest first', () => {
    const config = loadShopConfig({
      PORT: '8080',
      REDIS_URL: 'rediss://cache.example:6380',
      REPLICA_ID: 'eu-1',
      SESSION_SECRET: ` ${SECRET_B} , ${SECRET_A}`,
      SESSION_ENCRYPTION_KEYS: `${KEY_B}, ${KEY_A} `,
      NODE_ENV: 'production',
    });
    expect(config).toEqual({
      port: 8080,
      redis: { kind: 'url', url: 'rediss://cache.example:6380' },
      sessionSecrets: [SECRET_B, SECRET_A],
      usesDevSecret: false,
      sessionEncryptionKeys: [KEY_B, KEY_A],
      usesDevEncryptionKey: false,
      replicaId: 'eu-1',
    });
  });

  it('derives the replica name from the host name and the port', () => {
    expect(loadShopConfig({ PORT: '4001' }).replicaId).toBe(`${hostname()}:4001`);
  });

  it('takes Sentinel from REDIS_SENTINELS and REDIS_SENTINEL_NAME instead of REDIS_URL', () => {
    expect(loadShopConfig({ REDIS_SENTINELS: ' s1.example:26379, [::1]:26380 ', REDIS_SENTINEL_NAME: 'shop-master' }).redis).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1.example', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'shop-master',
    });
  });

  it('takes Cluster seed nodes from REDIS_CLUSTER instead of REDIS_URL', () => {
    expect(loadShopConfig({ REDIS_CLUSTER: '10.0.0.1:7000,10.0.0.2:7001' }).redis).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
    });
  });

  it.each([
    [{ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER: 'b:7000' }, /REDIS_URL and REDIS_CLUSTER are both set: set only one of REDIS_URL, REDIS_SENTINELS/],
    [{ REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER: 'b:7000' }, /REDIS_SENTINELS and REDIS_CLUSTER are both set/],
    [{ REDIS_URL: 'redis://a', REDIS_SENTINELS: 'a:1', REDIS_CLUSTER: 'b:2' }, /REDIS_URL and REDIS_SENTINELS and REDIS_CLUSTER are all set/],
    [{ REDIS_SENTINELS: 'a:26379' }, /REDIS_SENTINEL_NAME is required with REDIS_SENTINELS/],
    [{ REDIS_SENTINEL_NAME: 'm' }, /REDIS_SENTINEL_NAME is set without REDIS_SENTINELS/],
    [{ REDIS_CLUSTER: 'b:7000', REDIS_SENTINEL_NAME: 'm' }, /REDIS_SENTINEL_NAME is set without REDIS_SENTINELS/],
    [
      { REDIS_SENTINELS: 'a:26379,nohost', REDIS_SENTINEL_NAME: 'm' },
      /REDIS_SENTINELS: entry 2 of 2 must be host:port with a port from 1 to 65535; got "nohost"/,
    ],
    [{ REDIS_CLUSTER: 'a:0' }, /REDIS_CLUSTER: entry 1 of 1 must be host:port/],
    [{ REDIS_CLUSTER: 'a:7000,' }, /REDIS_CLUSTER: entry 2 of 2 must be host:port .*got ""/],
    [{ REDIS_CLUSTER: 'redis://a:7000' }, /REDIS_CLUSTER: entry 1 of 1 must be host:port/],
  ])('refuses the Redis settings %j, naming the variable', (env, message) => {
    expect(() => loadShopConfig(env)).toThrow(message);
  });

  it.each([
    [{ NODE_ENV: 'production' }, /SESSION_SECRET is required when NODE_ENV=production/],
    [{ NODE_ENV: 'production', SESSION_SECRET: SECRET_A }, /SESSION_ENCRYPTION_KEYS is required when NODE_ENV=production/],
    [{ SESSION_ENCRYPTION_KEYS: Buffer.alloc(16).toString('base64') }, /SESSION_ENCRYPTION_KEYS: key number 1 of 1 holds 16 bytes; each must be at least 32/],
    [{ SESSION_ENCRYPTION_KEYS: `${KEY_A},not base64!` }, /SESSION_ENCRYPTION_KEYS: key number 2 of 2 is not base64/],
    [{ SESSION_SECRET: 'short' }, /SESSION_SECRET: secret number 1 of 1 has 5 characters; each needs at least 32/],
    [{ SESSION_SECRET: `${SECRET_A},,${SECRET_B}` }, /secret number 2 of 3 has 0 characters/],
    [{ PORT: 'eighty' }, /PORT must be a whole number from 0 to 65535; got "eighty"/],
    [{ PORT: '70000' }, /PORT must be a whole number/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL must use redis:\/\/ or rediss:\/\//],
    [{ REDIS_URL: 'not a url' }, /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL; got "not a url"/],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => loadShopConfig(env)).toThrow(message);
  });
});
