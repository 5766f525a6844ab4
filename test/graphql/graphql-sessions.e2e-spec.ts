import { createClient, type Client } from 'graphql-ws';
import { WebSocket } from 'ws';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { Visitor } from '../session/support/http-client';
import type { RunningApp } from '../session/support/session-app';
import { startGraphqlApp, type GraphqlDriverName } from './support/graphql-app';

/** graphql-ws's clients end a subscription with an array of GraphQL errors, a close event or an Error: as an Error, with its message. */
function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  if (Array.isArray(error)) return Object.assign(new Error(String((error[0] as { message?: unknown } | undefined)?.message)), { errors: error });
  return Object.assign(new Error(`subscription ended: ${JSON.stringify(error)}`), { cause: error });
}

/** The HTTP status a WebSocket upgrade to `/graphql` is answered with, when it is refused. */
function upgradeStatus(app: RunningApp, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${app.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { headers });
    socket.on('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.on('open', () => {
      reject(new Error('the upgrade was accepted'));
      socket.close();
    });
    socket.on('error', () => undefined); // the refusal, read above
  });
}

type GraphqlAnswer = { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };

/**
 * What differs between the drivers, as their clients see it: Apollo gives Nest's HTTP exceptions an
 * `extensions.code`, Mercurius their message only; a foreign Origin is closed with 4403 by
 * `graphqlWsSessions` once graphql-ws has the socket, refused 403 before the upgrade by `mercuriusSessions`.
 */
const DRIVERS: { driver: GraphqlDriverName; platform: string; codes: boolean; foreignOrigin: 'closed 4403' | 'upgrade 403' }[] = [
  { driver: 'apollo', platform: 'Express', codes: true, foreignOrigin: 'closed 4403' },
  { driver: 'mercurius', platform: 'Fastify', codes: false, foreignOrigin: 'upgrade 403' },
];

/** The GraphQL example over two replicas on one Redis, on each driver: each operation goes to the next replica. */
describe.each(DRIVERS)('sessions in GraphQL resolvers ($driver on $platform)', ({ driver, codes, foreignOrigin }) => {
  let redis: RedisServerHandle;
  let replicas: RunningApp[];
  let turn = 0;

  beforeAll(async () => {
    redis = await startRedis();
    const prefix = uniquePrefix('graphql');
    // Cross-replica events: a session ended on one replica ends its subscriptions on the other.
    const events = { crossReplica: true };
    replicas = [await startGraphqlApp({ redis: redis.url, prefix, events }, driver), await startGraphqlApp({ redis: redis.url, prefix, events }, driver)];
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

  /** The error a driver answers for a Nest HTTP exception: with its GraphQL code where the driver gives one. */
  function graphqlError(message: string | undefined, code: string): Record<string, unknown> {
    return { ...(message === undefined ? {} : { message }), ...(codes ? { extensions: { code } } : {}) };
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
    expect(refused.errors?.[0]).toMatchObject(graphqlError('Missing or invalid CSRF token', 'FORBIDDEN'));
    const wrong = await graphql(visitor, 'mutation { addToCart(item: "x") }', {}, `${csrfToken}x`);
    expect(wrong.errors?.[0]).toMatchObject(graphqlError('Missing or invalid CSRF token', 'FORBIDDEN'));
    expect((await graphql(visitor, '{ cart }')).data).toEqual({ cart: [] });
  });

  it('answers a guarded query of a visitor without a session as unauthenticated', async () => {
    const answer = await graphql(browser(), '{ cart }');
    expect(answer.errors?.[0]).toMatchObject(graphqlError('Not logged in', 'UNAUTHENTICATED'));
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

  /** A subscription's values in order: `next()` answers the next one, or the error the subscription ended with. */
  function valuesOf<T>(client: Client, query: string): { next(): Promise<T> } {
    const arrived: Promise<T>[] = [];
    const waiting: { resolve(value: T): void; reject(error: unknown): void }[] = [];
    const settle = (outcome: { value: T } | { error: unknown }) => {
      const waiter = waiting.shift();
      if (waiter) return 'value' in outcome ? waiter.resolve(outcome.value) : waiter.reject(outcome.error);
      arrived.push('value' in outcome ? Promise.resolve(outcome.value) : Promise.reject(outcome.error));
      arrived[arrived.length - 1].catch(() => undefined); // read by a later next()
    };
    client.subscribe<T>(
      { query },
      {
        next: (value) => settle(value.errors ? { error: asError(value.errors) } : { value: value.data as T }),
        error: (error) => settle({ error: asError(error) }),
        complete: () => undefined,
      },
    );
    return { next: () => arrived.shift() ?? new Promise<T>((resolve, reject) => waiting.push({ resolve, reject })) };
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
          error: (error) => reject(asError(error)),
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

  it(`refuses a subscription connection from a foreign Origin (${foreignOrigin})`, async () => {
    const { visitor } = await loggedIn('g-sub-origin');
    if (foreignOrigin === 'upgrade 403') {
      expect(await upgradeStatus(replicas[0], { cookie: visitor.cookie!, origin: 'https://evil.example' })).toBe(403);
      return;
    }
    const foreign = subscriber(replicas[0], visitor.cookie, 'https://evil.example');
    await expect(firstTick(foreign.client)).rejects.toBeDefined();
    expect((await foreign.closed).code).toBe(4403);
  });

  it('a subscription gets the cart changes made through the other replica, until the session logs out', async () => {
    const { visitor, csrfToken } = await loggedIn('g-feed');
    const { client, closed } = subscriber(replicas[0], visitor.cookie);
    const carts = valuesOf<{ cartChanged: string[] }>(client, 'subscription { cartChanged }');
    expect(await carts.next()).toEqual({ cartChanged: [] }); // the cart as the subscription found it: listening from here on
    const elsewhere = new Visitor(replicas[1].url);
    elsewhere.cookie = visitor.cookie;
    expect((await graphql(elsewhere, 'mutation { addToCart(item: "apple") }', {}, csrfToken)).data).toEqual({ addToCart: ['apple'] });
    expect(await carts.next()).toEqual({ cartChanged: ['apple'] });
    expect((await graphql(elsewhere, 'mutation { addToCart(item: "pear") }', {}, csrfToken)).data).toEqual({ addToCart: ['apple', 'pear'] });
    expect(await carts.next()).toEqual({ cartChanged: ['apple', 'pear'] });
    expect((await graphql(elsewhere, 'mutation { logout }', {}, csrfToken)).data).toEqual({ logout: true });
    expect(await closed).toEqual({ code: 4403, reason: 'session logout' });
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
