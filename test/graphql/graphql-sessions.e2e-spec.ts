import { createClient, type Client } from 'graphql-ws';
import { WebSocket } from 'ws';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { Visitor } from '../session/support/http-client';
import type { RunningApp } from '../session/support/session-app';
import { startGraphqlApp } from './support/graphql-app';

type GraphqlAnswer = { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };

/** The GraphQL example over two replicas on one Redis: each operation goes to the next replica. */
describe('sessions in GraphQL resolvers', () => {
  let redis: RedisServerHandle;
  let replicas: RunningApp[];
  let turn = 0;

  beforeAll(async () => {
    redis = await startRedis();
    const prefix = uniquePrefix('graphql');
    // Cross-replica events: a session ended on one replica ends its subscriptions on the other.
    const events = { crossReplica: true };
    replicas = [await startGraphqlApp({ redis: redis.url, prefix, events }), await startGraphqlApp({ redis: redis.url, prefix, events })];
  });

  afterAll(async () => {
    await Promise.all((replicas ?? []).map((app) => app.close()));
    await redis?.stop();
  });

  /** A browser stand-in whose requests alternate between the replicas. */
  function browser(): Visitor {
    return new Visitor(() => replicas[turn++ % replicas.length].url);
  }

  async function graphql(visitor: Visitor, query: string, variables: Record<string, unknown> = {}, csrfToken?: string): Promise<GraphqlAnswer> {
    const headers: Record<string, string> = csrfToken ? { 'x-csrf-token': csrfToken } : {};
    const res = await visitor.request('POST', '/graphql', { body: { query, variables }, headers });
    return res.body as GraphqlAnswer;
  }

  async function loggedIn(id: string): Promise<{ visitor: Visitor; csrfToken: string }> {
    const visitor = browser();
    const first = await graphql(visitor, '{ csrfToken }');
    const login = await graphql(visitor, 'mutation ($id: ID!) { login(id: $id) { user { id name } csrfToken } }', { id }, first.data!.csrfToken as string);
    expect(login.errors).toBeUndefined();
    const answer = login.data!.login as { user: unknown; csrfToken: string };
    expect(answer.user).toEqual({ id, name: `user ${id}` });
    return { visitor, csrfToken: answer.csrfToken };
  }

  it('logs in through a mutation and reads the user in a query on the other replica', async () => {
    const { visitor } = await loggedIn('g-1');
    expect((await graphql(visitor, '{ me { id name } }')).data).toEqual({ me: { id: 'g-1', name: 'user g-1' } });
    expect((await graphql(visitor, '{ me { id name } }')).data).toEqual({ me: { id: 'g-1', name: 'user g-1' } });
  });

  it('refuses a cookie-authenticated mutation without the CSRF token, and lets queries through without one', async () => {
    const { visitor, csrfToken } = await loggedIn('g-csrf');
    const refused = await graphql(visitor, 'mutation { addToCart(item: "x") }');
    expect(refused.errors?.[0]).toMatchObject({ message: 'Missing or invalid CSRF token', extensions: { code: 'FORBIDDEN' } });
    const wrong = await graphql(visitor, 'mutation { addToCart(item: "x") }', {}, `${csrfToken}x`);
    expect(wrong.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect((await graphql(visitor, '{ cart }')).data).toEqual({ cart: [] });
  });

  it('answers a guarded query of a visitor without a session as unauthenticated', async () => {
    const answer = await graphql(browser(), '{ cart }');
    expect(answer.errors?.[0]).toMatchObject({ message: 'Not logged in', extensions: { code: 'UNAUTHENTICATED' } });
    expect((await graphql(browser(), '{ me { id } }')).data).toEqual({ me: null });
  });

  it('keeps every one of 30 parallel cart mutations spread over both replicas', async () => {
    const { visitor, csrfToken } = await loggedIn('g-cart');
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => graphql(visitor, 'mutation ($item: String!) { addToCart(item: $item) }', { item: `item-${i}` }, csrfToken)),
    );
    expect(answers.filter((answer) => answer.errors)).toEqual([]);
    const cart = (await graphql(visitor, '{ cart }')).data!.cart as string[];
    expect([...cart].sort()).toEqual(Array.from({ length: 30 }, (_, i) => `item-${i}`).sort());
  });

  it('logs out through a mutation: the session is anonymous on both replicas', async () => {
    const { visitor, csrfToken } = await loggedIn('g-out');
    const cookie = visitor.cookie!;
    expect((await graphql(visitor, 'mutation { logout }', {}, csrfToken)).data).toEqual({ logout: true });
    for (let i = 0; i < 2; i++) {
      visitor.cookie = cookie; // the old cookie replayed
      expect((await graphql(visitor, '{ me { id } }')).data).toEqual({ me: null });
    }
  });

  /** A graphql-ws client on one replica, as a browser with this cookie and Origin would connect. */
  function subscriber(app: RunningApp, cookie: string | undefined, origin?: string): { client: Client; closed: Promise<{ code: number; reason: string }> } {
    const headers: Record<string, string> = {};
    if (cookie) headers.cookie = cookie;
    if (origin) headers.origin = origin;
    let closed!: (event: { code: number; reason: string }) => void;
    const closing = new Promise<{ code: number; reason: string }>((resolve) => (closed = resolve));
    const client = createClient({
      url: `${app.url.replace(/^http/, 'ws')}/graphql`,
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: () => undefined, // each test reads the close itself
      webSocketImpl: class extends WebSocket {
        constructor(address: string, protocols?: string | string[]) {
          super(address, protocols, { headers });
        }
      },
      on: { closed: (event) => closed({ code: (event as { code: number }).code, reason: (event as { reason: string }).reason }) },
    });
    return { client, closed: closing };
  }

  /** The next value of `{ ticks }`, or the error the subscription ended with. */
  function firstTick(client: Client): Promise<string> {
    return new Promise((resolve, reject) => {
      const dispose = client.subscribe<{ ticks: string }>(
        { query: 'subscription { ticks }' },
        {
          next: (value) => {
            if (value.errors) return reject(Object.assign(new Error(value.errors[0].message), { errors: value.errors }));
            resolve(value.data!.ticks);
            dispose();
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
  }

  it('subscriptions over graphql-ws get the session of the upgrade request; a guarded one is refused without it', async () => {
    const { visitor } = await loggedIn('g-sub');
    const own = subscriber(replicas[1], visitor.cookie);
    expect(await firstTick(own.client)).toMatch(/^g-sub:\d+$/);
    const anonymous = subscriber(replicas[0], undefined);
    await expect(firstTick(anonymous.client)).rejects.toThrow(/Not logged in|Unauthorized/);
    await Promise.all([own.client.dispose(), anonymous.client.dispose()]);
  });

  it('refuses a graphql-ws connection from a foreign Origin', async () => {
    const { visitor } = await loggedIn('g-sub-origin');
    const foreign = subscriber(replicas[0], visitor.cookie, 'https://evil.example');
    await expect(firstTick(foreign.client)).rejects.toBeDefined();
    expect((await foreign.closed).code).toBe(4403);
  });

  it('ends the subscriptions of a session that logs out, on every replica', async () => {
    const { visitor, csrfToken } = await loggedIn('g-sub-end');
    const open = replicas.map((app) => subscriber(app, visitor.cookie));
    for (const { client } of open) expect(await firstTick(client)).toMatch(/^g-sub-end:/);
    const running = open.map(({ client }) =>
      client.subscribe({ query: 'subscription { ticks }' }, { next: () => undefined, error: () => undefined, complete: () => undefined }),
    );
    expect((await graphql(visitor, 'mutation { logout }', {}, csrfToken)).data).toEqual({ logout: true });
    for (const { closed } of open) expect(await closed).toEqual({ code: 4403, reason: 'session logout' });
    running.forEach((dispose) => dispose());
  });
});
