import { resolveStoreOptions } from '../options/resolve-store-options';
import { SessionObservers } from '../redis/session-observer';
import { SessionCore, createSessionContext } from './session-core';
import type { SessionCache, UserIndexKeeper } from './store-ports';

/*
 * How the core is put together (session-core.ts): one context over one gateway, and each part handed
 * the features it uses. Every end-to-end suite builds it through the module; here, what each part
 * holds is checked directly, with no Redis (the client is never called: `lazyConnect` semantics).
 */

function options(overrides: Record<string, unknown> = {}) {
  const client = { defineCommand: jest.fn(), options: {} };
  return resolveStoreOptions({ client: client as never, prefix: 'app:', redisDeadline: 1_234, ...overrides });
}

/** What a part was constructed with (its private fields). */
const held = (part: object) => part as unknown as Record<string, unknown>;

describe('createSessionContext', () => {
  it("builds the gateway over the options' client, deadline and logger, reporting to the observers and the write listener given", () => {
    const resolved = options();
    const observers = new SessionObservers();
    const writeListener = { written: jest.fn() };
    const context = createSessionContext(resolved, observers, writeListener as never);
    expect(context.gateway.client).toBe(resolved.client);
    const calls = held(held(context.gateway).calls as object);
    expect(calls.deadline).toBe(1_234);
    expect(calls.observers).toBe(observers);
    expect(calls.writeListener).toBe(writeListener);
    expect(calls.acknowledgement).toBeUndefined();
    expect(held(context).observers).toBe(observers);
    expect(context.settings).toBe(resolved);
    expect(context.logger).toBe(resolved.logger);
  });

  it('reports to observers of its own when given none, and tells no listener of writes', () => {
    const context = createSessionContext(options());
    expect(held(context).observers).toBeInstanceOf(SessionObservers);
    expect(held(held(context.gateway).calls as object).writeListener).toBeUndefined();
  });
});

describe('SessionCore', () => {
  it('hands the index keeper to every part that moves index entries, and the cache to the reader', () => {
    const context = createSessionContext(options());
    const indexKeeper = {} as UserIndexKeeper;
    const cache = {} as SessionCache;
    const core = new SessionCore(context, { indexKeeper, cache });
    expect(core.context).toBe(context);
    expect(core.gateway).toBe(context.gateway);
    expect(core.indexKeeper).toBe(indexKeeper);
    for (const part of [core.forwarding, core.slides, core.reader, core.writer]) expect(held(part).indexKeeper).toBe(indexKeeper);
    expect(held(core.reader).cache).toBe(cache);
    // One forwarding and one slide policy, shared by the parts that follow renewals and slide expiries.
    expect(held(core.reader).forwarding).toBe(core.forwarding);
    expect(held(core.writer).forwarding).toBe(core.forwarding);
    expect(held(core.admin).forwarding).toBe(core.forwarding);
    expect(held(core.reader).slides).toBe(core.slides);
    for (const part of [core.forwarding, core.slides, core.reader, core.writer, core.admin]) expect(held(part).sessions).toBe(context);
  });

  it('builds a bare core, with no features, for a store used on its own', () => {
    const core = new SessionCore(createSessionContext(options()));
    expect(core.indexKeeper).toBeUndefined();
    expect(held(core.reader).cache).toBeUndefined();
    expect(held(core.writer).indexKeeper).toBeUndefined();
  });
});
