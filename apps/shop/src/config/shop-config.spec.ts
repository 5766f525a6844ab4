import { hostname } from 'node:os';
import { loadShopConfig } from './shop-config';

const SECRET_A = 'a'.repeat(32);
const SECRET_B = 'b'.repeat(40);

describe('loadShopConfig', () => {
  it('fills in the contract defaults, with the development secret outside production', () => {
    expect(loadShopConfig({})).toEqual({
      port: 3000,
      redisUrl: 'redis://127.0.0.1:6379',
      sessionSecrets: [expect.any(String)],
      usesDevSecret: true,
      replicaId: `${hostname()}:3000`,
    });
  });

  it('reads PORT, REDIS_URL, REPLICA_ID and a comma-separated SESSION_SECRET, newest first', () => {
    const config = loadShopConfig({
      PORT: '8080',
      REDIS_URL: 'rediss://cache.example:6380',
      REPLICA_ID: 'eu-1',
      SESSION_SECRET: ` ${SECRET_B} , ${SECRET_A}`,
      NODE_ENV: 'production',
    });
    expect(config).toEqual({ port: 8080, redisUrl: 'rediss://cache.example:6380', sessionSecrets: [SECRET_B, SECRET_A], usesDevSecret: false, replicaId: 'eu-1' });
  });

  it('derives the replica name from the host name and the port', () => {
    expect(loadShopConfig({ PORT: '4001' }).replicaId).toBe(`${hostname()}:4001`);
  });

  it.each([
    [{ NODE_ENV: 'production' }, /SESSION_SECRET is required when NODE_ENV=production/],
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
