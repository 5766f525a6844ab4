import { Logger } from '@nestjs/common';
import { Registry } from 'prom-client';
import { createShopApp } from '../create-shop-app';
import { sessionOptions } from './session-options';
import { validateShopEnvironment } from './shop-environment';

const SECRET = 's'.repeat(32);
const KEY = Buffer.alloc(32, 7).toString('base64');
// Nothing listens there: a boot that got as far as connecting would fail, not reach a real Redis.
const NO_REDIS = 'redis://127.0.0.1:1';

describe('sessionOptions', () => {
  const registry = new Registry();
  const optionsFor = (variables: Record<string, string>) =>
    sessionOptions(validateShopEnvironment({ SESSION_SECRET: SECRET, SESSION_ENCRYPTION_KEYS: KEY, ...variables }), registry);

  it('passes the secrets, the keys, the Redis URL and the replica name on to SessionModule', () => {
    const options = optionsFor({
      SESSION_SECRET: `${SECRET},${'t'.repeat(40)}`,
      SESSION_ENCRYPTION_KEYS: KEY,
      REDIS_URL: 'rediss://r.example',
      REPLICA_ID: 'eu-1',
    });
    expect(options).toMatchObject({
      secret: [SECRET, 't'.repeat(40)],
      encryption: { keys: [KEY] },
      redis: 'rediss://r.example',
      events: { crossReplica: true, replica: 'eu-1' },
      idFrom: { header: 'X-Session-Token', cookie: true },
      metrics: { registry },
    });
  });

  it('connects to redis://127.0.0.1:6379 when no Redis variable is set', () => {
    expect(optionsFor({}).redis).toBe('redis://127.0.0.1:6379');
  });

  it('turns REDIS_SENTINELS and REDIS_CLUSTER entries into addresses, IPv6 hosts without their brackets', () => {
    expect(optionsFor({ REDIS_SENTINELS: 's1.example:26379,[::1]:26380', REDIS_SENTINEL_NAME: 'shop-master' }).redis).toEqual({
      sentinels: [
        { host: 's1.example', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'shop-master',
    });
    expect(optionsFor({ REDIS_CLUSTER: '10.0.0.1:7000,10.0.0.2:7001' }).redis).toEqual({
      cluster: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
    });
  });

  it('uses a development secret and key, with a warning each, when SESSION_SECRET and SESSION_ENCRYPTION_KEYS are unset', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const options = optionsFor({ SESSION_SECRET: '', SESSION_ENCRYPTION_KEYS: '' });
      expect(options.secret).toEqual([expect.any(String)]);
      expect(options.encryption?.keys).toEqual([expect.any(String)]);
      expect(warn.mock.calls.map(([message]) => message)).toEqual([
        expect.stringMatching(/^SESSION_SECRET is not set: using a fixed development secret/),
        expect.stringMatching(/^SESSION_ENCRYPTION_KEYS is not set: using a fixed development key/),
      ]);
    } finally {
      warn.mockRestore();
    }
  });
});

describe('the shop at boot', () => {
  // The checks SessionModule makes of its options, which the shop does not repeat: the boot still fails, naming the variable.
  it.each([
    [{ SESSION_SECRET: 'short' }, /^SESSION_SECRET is invalid: SessionModule option "secret\[0\]" must be a string of at least 32 characters/],
    [{ SESSION_SECRET: `${SECRET},,${SECRET}x` }, /^SESSION_SECRET is invalid: SessionModule option "secret\[1\]"/],
    [
      { SESSION_ENCRYPTION_KEYS: Buffer.alloc(16).toString('base64') },
      /^SESSION_ENCRYPTION_KEYS is invalid: .*"encryption.keys\[0\]" must hold at least 32 bytes/,
    ],
    [{ SESSION_ENCRYPTION_KEYS: `${KEY},not base64!` }, /^SESSION_ENCRYPTION_KEYS is invalid: .*"encryption.keys\[1\]" must be base64/],
    [{ REDIS_URL: 'localhost:6379' }, /^REDIS_URL is invalid: SessionModule option "redis" must be a redis:\/\/ or rediss:\/\/ URL; got "localhost:6379"/],
  ])('refuses %j, naming the variable', async (variables, message) => {
    const env = { REDIS_URL: NO_REDIS, SESSION_SECRET: SECRET, SESSION_ENCRYPTION_KEYS: KEY, ...variables };
    await expect(createShopApp({ env, logger: false })).rejects.toThrow(message);
  });
});
