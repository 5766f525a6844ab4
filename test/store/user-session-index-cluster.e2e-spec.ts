import { Cluster } from 'ioredis';
import { once } from 'node:events';
import { ConflictException } from '@nestjs/common';
import { SessionConflictError } from '@app/session';
import { SessionUserIndexKeeper } from '@app/session/users/user-index-keeper';
import { defaultSessionUserId } from '@app/session/users/user-id';
import { UserSessionIndex, type UserSessionLimit } from '@app/session/users/user-session-index';
import { deleteByPrefix, uniquePrefix } from '../support/prefix';
import { startCluster, topologyAvailable } from '../support/topologies';
import { digestOf, sessionRedisKey, userIndexRedisKey } from '../support/key-scheme';
import { freshSession, loadSession, newSid, recordingLogger, saveSession, storeWithCore } from './fixtures';

/**
 * The user index on Redis Cluster, where a session and its user's index live in different slots: the
 * session is written first, its entry moved right after (UserSessionIndex.saveMoving). The standalone
 * path, one script for both, is tested in user-session-index.e2e-spec.ts.
 */
const available = topologyAvailable();

(available.cluster ? describe : describe.skip)(`the user index on Redis Cluster${available.cluster ? '' : ` (skipped: ${available.reason})`}`, () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let client: Cluster;
  let admin: Cluster;
  let prefix: string;

  beforeAll(async () => {
    cluster = await startCluster();
    client = new Cluster(cluster.nodes);
    client.setMaxListeners(100); // a store per test, each listening to the client's connection events
    admin = new Cluster(cluster.nodes);
    for (const c of [client, admin]) if (c.status !== 'ready') await once(c, 'ready');
  });
  afterAll(async () => {
    await client?.quit();
    await admin?.quit();
    await cluster?.stop();
  });
  beforeEach(() => {
    prefix = uniquePrefix('index-cluster');
  });
  afterEach(() => deleteByPrefix(admin, prefix));

  function setup(limit: UserSessionLimit = { maxSessions: 0, onLimit: 'evict-oldest' }) {
    let index!: UserSessionIndex;
    const { store, core } = storeWithCore(
      { client, prefix, logger: recordingLogger() },
      {
        features: (context) => {
          index = new UserSessionIndex(context, limit);
          return { indexKeeper: new SessionUserIndexKeeper(index, defaultSessionUserId) };
        },
      },
    );
    return { store, core, index };
  }

  /** A session of `userId` saved as a login saves it, created at `createdAt`. */
  async function login(ctx: ReturnType<typeof setup>, userId: string, createdAt = Date.now()): Promise<string> {
    const sid = newSid();
    const session = freshSession(ctx.store, sid, { user: { id: userId } }, { maxAge: 60_000 });
    ctx.core.context.stateFor(session).createdAt = createdAt;
    await ctx.store.set(sid, session);
    return sid;
  }

  const members = (userId: string) => admin.zrange(userIndexRedisKey(prefix, userId), 0, '-1');
  const stored = (sid: string) => admin.exists(sessionRedisKey(prefix, sid));

  it('a session joins its index after its save; a new ID in the same index takes the old digest out in that join', async () => {
    const ctx = setup();
    const first = await login(ctx, 'ada');
    await expect(members('ada')).resolves.toEqual([digestOf(first)]);

    // What SessionLifecycle.generate does on a regenerate: the new session object carries the old entry.
    const renewed = newSid();
    const session = freshSession(ctx.store, renewed, { user: { id: 'ada' } }, { maxAge: 60_000 });
    ctx.core.context.stateFor(session).indexEntry = { userId: 'ada', digest: digestOf(first) };
    await ctx.store.set(renewed, session);
    await expect(members('ada')).resolves.toEqual([digestOf(renewed)]);
    await expect(stored(renewed)).resolves.toBe(1);
  });

  it('a new ID whose save finds it already past its expiry joins nothing, and takes the old digest out of the index', async () => {
    const ctx = setup();
    const first = await login(ctx, 'ada');
    const renewed = newSid();
    const session = freshSession(ctx.store, renewed, { user: { id: 'ada' } }, { expires: new Date(Date.now() - 1_000) });
    ctx.core.context.stateFor(session).indexEntry = { userId: 'ada', digest: digestOf(first) };
    await ctx.store.set(renewed, session);
    await expect(stored(renewed)).resolves.toBe(0);
    await expect(members('ada')).resolves.toEqual([]);
  });

  it('a session switching users leaves the first index and joins the second', async () => {
    const ctx = setup();
    const sid = await login(ctx, 'ada');
    const session = await loadSession(ctx.store, sid);
    session.user = { id: 'bob' };
    await saveSession(session);
    await expect(members('ada')).resolves.toEqual([]);
    await expect(members('bob')).resolves.toEqual([digestOf(sid)]);
  });

  it('a save that finds its session destroyed joins nothing, and still takes the entry out of the index it leaves', async () => {
    const ctx = setup();
    const sid = await login(ctx, 'ada');
    const session = await loadSession(ctx.store, sid);
    await admin.del(sessionRedisKey(prefix, sid)); // destroyed by another request meanwhile (the index is not the store's to clean)
    session.user = { id: 'bob' };
    await saveSession(session);
    await expect(stored(sid)).resolves.toBe(0);
    await expect(members('ada')).resolves.toEqual([]);
    await expect(members('bob')).resolves.toEqual([]);
  });

  it("reject: past the limit the session just written is deleted again, and the save fails with SessionConflictError 'limit'", async () => {
    const ctx = setup({ maxSessions: 1, onLimit: 'reject' });
    const kept = await login(ctx, 'ada');
    const error = await login(ctx, 'ada').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictException);
    expect((error as ConflictException).cause).toBeInstanceOf(SessionConflictError);
    expect((error as ConflictException).cause).toMatchObject({ reason: 'limit', message: expect.stringMatching(/1 active sessions?.*users\.maxSessions/) });
    await expect(members('ada')).resolves.toEqual([digestOf(kept)]);
    const keys = (await Promise.all(admin.nodes('master').map((node) => node.keys(`${prefix}*`)))).flat();
    expect(keys.sort()).toEqual([sessionRedisKey(prefix, kept), userIndexRedisKey(prefix, 'ada')].sort());
  });

  it('evict-oldest: past the limit the oldest session is deleted with its entry', async () => {
    const ctx = setup({ maxSessions: 2, onLimit: 'evict-oldest' });
    const now = Date.now();
    const sids = [await login(ctx, 'ada', now - 30), await login(ctx, 'ada', now - 20), await login(ctx, 'ada', now - 10)];
    await expect(Promise.all(sids.map(stored))).resolves.toEqual([0, 1, 1]);
    await expect(members('ada').then((digests) => digests.sort())).resolves.toEqual(sids.slice(1).map(digestOf).sort());
  });
});
