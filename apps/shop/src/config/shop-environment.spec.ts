import { hostname } from 'node:os';
import { validateShopEnvironment } from './shop-environment';

const SECRET_A = 'a'.repeat(32);
const SECRET_B = 'b'.repeat(40);
const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');

describe('validateShopEnvironment', () => {
  it('fills in the contract defaults and keeps only the shop variables', () => {
    expect({ ...validateShopEnvironment({ PATH: '/usr/bin', HOME: '/root' }) }).toEqual({
      HTTP_PLATFORM: 'express',
      PORT: 3000,
      REPLICA_ID: `${hostname()}:3000`,
    });
  });

  it('reads PORT, REDIS_URL, REPLICA_ID, METRICS_TOKEN and comma-separated SESSION_SECRET and SESSION_ENCRYPTION_KEYS, newest first', () => {
    const env = validateShopEnvironment({
      PORT: '8080',
      REDIS_URL: 'rediss://cache.example:6380',
      REPLICA_ID: ' eu-1 ',
      METRICS_TOKEN: 'scrape-me',
      SESSION_SECRET: ` ${SECRET_B} , ${SECRET_A}`,
      SESSION_ENCRYPTION_KEYS: `${KEY_B}, ${KEY_A} `,
      NODE_ENV: 'production',
    });
    expect({ ...env }).toEqual({
      HTTP_PLATFORM: 'express',
      PORT: 8080,
      REDIS_URL: 'rediss://cache.example:6380',
      REPLICA_ID: 'eu-1',
      METRICS_TOKEN: 'scrape-me',
      SESSION_SECRET: [SECRET_B, SECRET_A],
      SESSION_ENCRYPTION_KEYS: [KEY_B, KEY_A],
      NODE_ENV: 'production',
    });
  });

  it('derives the replica name from the host name and the port', () => {
    expect(validateShopEnvironment({ PORT: '4001' }).REPLICA_ID).toBe(`${hostname()}:4001`);
  });

  it('takes a blank variable as unset, as deployment templates write it', () => {
    const env = validateShopEnvironment({ PORT: ' ', REDIS_URL: '', REDIS_SENTINELS: '', REDIS_SENTINEL_NAME: '', REDIS_CLUSTER: 'a:7000', NODE_ENV: '' });
    expect({ ...env }).toEqual({ HTTP_PLATFORM: 'express', PORT: 3000, REDIS_CLUSTER: ['a:7000'], REPLICA_ID: `${hostname()}:3000` });
  });

  it('takes Sentinel from REDIS_SENTINELS and REDIS_SENTINEL_NAME, and Cluster seed nodes from REDIS_CLUSTER', () => {
    const sentinel = validateShopEnvironment({ REDIS_SENTINELS: ' s1.example:26379, [::1]:26380 ', REDIS_SENTINEL_NAME: 'shop-master' });
    expect([sentinel.REDIS_SENTINELS, sentinel.REDIS_SENTINEL_NAME]).toEqual([['s1.example:26379', '[::1]:26380'], 'shop-master']);
    expect(validateShopEnvironment({ REDIS_CLUSTER: '10.0.0.1:7000,10.0.0.2:7001' }).REDIS_CLUSTER).toEqual(['10.0.0.1:7000', '10.0.0.2:7001']);
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
    [{ REDIS_CLUSTER: 'a:65536' }, /REDIS_CLUSTER: entry 1 of 1 must be host:port/],
    [{ REDIS_CLUSTER: 'a:7000,' }, /REDIS_CLUSTER: entry 2 of 2 must be host:port .*got ""/],
    [{ REDIS_CLUSTER: 'redis://a:7000' }, /REDIS_CLUSTER: entry 1 of 1 must be host:port/],
  ])('refuses the Redis settings %j, naming the variable', (env, message) => {
    expect(() => validateShopEnvironment(env)).toThrow(message);
  });

  it.each([
    [{ NODE_ENV: 'production' }, /SESSION_SECRET is required when NODE_ENV=production/],
    [{ NODE_ENV: 'production', SESSION_SECRET: SECRET_A }, /SESSION_ENCRYPTION_KEYS is required when NODE_ENV=production/],
    [{ PORT: 'eighty' }, /PORT must be a whole number from 0 to 65535; got "eighty"/],
    [{ PORT: '70000' }, /PORT must be a whole number from 0 to 65535; got "70000"/],
    [{ PORT: '-1' }, /PORT must be a whole number/],
    [{ PORT: '80.5' }, /PORT must be a whole number/],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => validateShopEnvironment(env)).toThrow(message);
  });

  it('takes HTTP_PLATFORM express or fastify, and refuses anything else naming the variable', () => {
    expect(validateShopEnvironment({ HTTP_PLATFORM: 'fastify' }).HTTP_PLATFORM).toBe('fastify');
    expect(validateShopEnvironment({ HTTP_PLATFORM: ' express ' }).HTTP_PLATFORM).toBe('express');
    expect(() => validateShopEnvironment({ HTTP_PLATFORM: 'koa' })).toThrow('HTTP_PLATFORM must be express or fastify; got "koa"');
  });

  it('lists every problem at once', () => {
    expect(() => validateShopEnvironment({ PORT: 'x', NODE_ENV: 'production', REDIS_SENTINEL_NAME: 'm' })).toThrow(
      /^Invalid environment: PORT must .*; SESSION_SECRET is required .*; SESSION_ENCRYPTION_KEYS is required .*; REDIS_SENTINEL_NAME is set without REDIS_SENTINELS/,
    );
  });
});
