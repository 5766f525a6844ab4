import { hostname } from 'node:os';
import { SESSION_METRICS_BUCKETS } from './metrics-options';
import { resolveSessionOptions } from './resolve-options';
import { SESSION_DEFAULTS } from './session-defaults';
import type { SessionModuleOptions } from './session-options.interface';
import { configErrorOf, expectRejectedBy } from '../../../../test/support/config-errors';

/* SessionModule's feature options (feature-options.interface.ts): nearCache, renewal, events. */

const SECRET = 'a-secret-of-at-least-32-characters!!';
// Only validated, never connected to.
const valid: SessionModuleOptions = { secret: SECRET, redis: 'redis://sessions.example.internal:6380' };

const configError = (options: unknown) => configErrorOf(resolveSessionOptions, options);
const expectRejected = (options: unknown, option: string) => expectRejectedBy(resolveSessionOptions, options, option);

/** Resolves `valid` with one more option. */
const resolveWith = (more: Record<string, unknown>) => resolveSessionOptions({ ...valid, ...more });

describe('resolveSessionOptions: nearCache', () => {
  it('is off unless given, takes every default with true, and keeps the bounds given', () => {
    expect(resolveWith({}).nearCache).toBeUndefined();
    expect(resolveWith({ nearCache: false }).nearCache).toBeUndefined();
    expect(resolveWith({ nearCache: true }).nearCache).toEqual({ maxEntries: 10_000, maxBytes: 32 * 1024 * 1024, maxEntryAge: 60_000 });
    expect(resolveWith({ nearCache: true }).nearCache).toEqual(SESSION_DEFAULTS.nearCache);
    expect(resolveWith({ nearCache: {} }).nearCache).toEqual({ maxEntries: 10_000, maxBytes: 32 * 1024 * 1024, maxEntryAge: 60_000 });
    expect(resolveWith({ nearCache: { maxEntries: 50 } }).nearCache).toEqual({ maxEntries: 50, maxBytes: 32 * 1024 * 1024, maxEntryAge: 60_000 });
    expect(resolveWith({ nearCache: { maxEntries: 5, maxBytes: 4096, maxEntryAge: 250 } }).nearCache).toEqual({
      maxEntries: 5,
      maxBytes: 4096,
      maxEntryAge: 250,
    });
  });

  it('gives each module its own copy of the defaults', () => {
    const bounds = resolveWith({ nearCache: true }).nearCache!;
    bounds.maxEntries = 1;
    expect(SESSION_DEFAULTS.nearCache.maxEntries).toBe(10_000);
    expect(resolveWith({ nearCache: true }).nearCache?.maxEntries).toBe(10_000);
  });

  it.each([
    ['on', 'nearCache'],
    [null, 'nearCache'],
    [[], 'nearCache'],
    [{ maxEntries: 0 }, 'nearCache.maxEntries'],
    [{ maxEntries: 1.5 }, 'nearCache.maxEntries'],
    [{ maxBytes: 1023 }, 'nearCache.maxBytes'],
    [{ maxBytes: '32MB' }, 'nearCache.maxBytes'],
    [{ maxEntryAge: 0 }, 'nearCache.maxEntryAge'],
    [{ maxEntryAge: -1 }, 'nearCache.maxEntryAge'],
    [{ maxEntryAge: '1m' }, 'nearCache.maxEntryAge'],
    [{ maxAge: 60_000 }, 'nearCache.maxAge'], // its name before 1.0
    [{ maxEntry: 10 }, 'nearCache.maxEntry'],
  ])('refuses %j at boot, naming %s', (nearCache, option) => {
    expectRejected({ ...valid, nearCache }, option);
  });
});

describe('resolveSessionOptions: renewal', () => {
  it('is off unless given; true takes the defaults; an object keeps what it gives', () => {
    expect(resolveWith({}).renewal).toBeUndefined();
    expect(resolveWith({ renewal: false }).renewal).toBeUndefined();
    expect(resolveWith({ renewal: true }).renewal).toEqual({ interval: 15 * 60_000, grace: 60_000 });
    expect(resolveWith({ renewal: true }).renewal).toEqual(SESSION_DEFAULTS.renewal);
    expect(resolveWith({ renewal: { interval: 600_000, grace: 5_000 } }).renewal).toEqual({ interval: 600_000, grace: 5_000 });
  });

  it('gives a short interval a grace of at most half of it when grace is unset', () => {
    expect(resolveWith({ renewal: { interval: 40_000 } }).renewal).toEqual({ interval: 40_000, grace: 20_000 });
    expect(resolveWith({ renewal: { grace: 1_000 } }).renewal).toEqual({ interval: 15 * 60_000, grace: 1_000 });
  });

  it.each([
    ['yes', 'renewal'],
    [null, 'renewal'],
    [[], 'renewal'],
    [{ interval: 0 }, 'renewal.interval'],
    [{ interval: 1.5 }, 'renewal.interval'],
    [{ interval: 1 }, 'renewal.interval'], // its default grace, half of it, would be 0 ms
    [{ interval: '15m' }, 'renewal.interval'],
    [{ grace: -1 }, 'renewal.grace'],
    [{ grace: 0 }, 'renewal.grace'],
    [{ interval: 10_000, grace: 5_001 }, 'renewal.grace'], // more than half the interval
    [{ intervall: 10_000 }, 'renewal.intervall'],
  ])('refuses %j at boot, naming %s', (renewal, option) => {
    expectRejected({ ...valid, renewal }, option);
  });

  it('says why a long grace is refused', () => {
    expect(configError({ ...valid, renewal: { interval: 10_000, grace: 5_001 } }).message).toMatch(
      /"renewal\.grace" \(5001 ms\) must be at most half of "renewal\.interval" \(10000 ms\)/,
    );
  });
});

describe('resolveSessionOptions: events', () => {
  it("has only this replica's own events by default, named <hostname>:<pid>", () => {
    const replica = `${hostname()}:${process.pid}`;
    expect(resolveWith({}).events).toEqual({ crossReplica: false, expired: 'off', replica });
    expect(resolveWith({ events: {} }).events).toEqual({ crossReplica: false, expired: 'off', replica });
  });

  it('keeps crossReplica and the replica name given', () => {
    expect(resolveWith({ events: { crossReplica: true, replica: 'shop-1' } }).events).toEqual({ crossReplica: true, expired: 'off', replica: 'shop-1' });
    expect(resolveWith({ events: { replica: 'r'.repeat(200) } }).events.replica).toBe('r'.repeat(200));
  });

  it.each([
    [false, 'off'],
    [true, 'listen'],
    ['configure', 'configure'],
  ])('folds expired: %p into %p', (expired, resolved) => {
    expect(resolveWith({ events: { expired } }).events.expired).toBe(resolved);
  });

  it.each([
    [true, 'events'],
    [null, 'events'],
    [[], 'events'],
    [{ crossreplica: true }, 'events.crossreplica'],
    [{ crossReplica: 'yes' }, 'events.crossReplica'],
    [{ expired: 1 }, 'events.expired'],
    [{ expired: 'listen' }, 'events.expired'], // a resolved value, not an option value
    [{ expired: 'off' }, 'events.expired'],
    [{ enableKeyspaceEvents: true, expired: true }, 'events.enableKeyspaceEvents'], // now expired: 'configure'
    [{ replica: '' }, 'events.replica'],
    [{ replica: '   ' }, 'events.replica'],
    [{ replica: 'r'.repeat(201) }, 'events.replica'],
    [{ replica: 42 }, 'events.replica'],
  ])('refuses %j at boot, naming %s', (events, option) => {
    expectRejected({ ...valid, events }, option);
  });

  it('lists the choices of expired', () => {
    expect(configError({ ...valid, events: { expired: 'yes' } }).message).toMatch(/"events\.expired" must be one of true, false, "configure"; got "yes"$/);
  });
});

describe('resolveSessionOptions: metrics', () => {
  it('is off unless given, and resolved by resolveMetricsOption when on', () => {
    expect(resolveWith({}).metrics).toBeUndefined();
    expect(resolveWith({ metrics: true }).metrics).toEqual({ prefix: '', buckets: [...SESSION_METRICS_BUCKETS] });
    expect(resolveWith({ metrics: { prefix: 'shop_' } }).metrics).toEqual({ prefix: 'shop_', buckets: [...SESSION_METRICS_BUCKETS] });
  });
});
