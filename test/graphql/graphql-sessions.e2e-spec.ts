import { createClient, type Client } from 'graphql-ws';
import Redis from 'ioredis';
import { WebSocket } from 'ws';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { SessionService } from '@app/session';
import { Visitor } from '../session/support/http-client';
import type { RunningApp } from '../session/support/session-app';
import { startGraphqlApp, type GraphqlDriverName } from './support/graphql-app';

/** graphql-ws's clients end a subscription with an array of GraphQL errors, a close event or an Error: as an Error, with its message. */
function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  if (Array.isArray(error)) return Object.assign(new Error(String((error[0] as { message?: unknown } | undefined)?.message)), { errors: error });
  return Object.assign(new Error(`subscription ended: ${JSON.stringify(error)}`), { cause: error });
}

/** What `promise` resolves to, or a failure after `ms`: a connection left open fails its test in seconds, not at Jest's timeout. */
function within<T>(promise: Promise<T>, ms = 3_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
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

/** What arrives, in order: `next()` answers the oldest thing not yet read, or waits for the next one. */
class Inbox<T> {
  private readonly arrived: Promise<T>[] = [];
  private readonly waiting: { resolve(value: T): void; reject(error: unknown): void }[] = [];

  put(value: T): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve(value);
    else this.arrived.push(Promise.resolve(value));
  }

  fail(error: Error): void {
    const waiter = this.waiting.shift();
    if (waiter) return waiter.reject(error);
    const failed = Promise.reject(error);
    failed.catch(() => undefined); // read by a later next()
    this.arrived.push(failed);
  }

  next(): Promise<T> {
    return this.arrived.shift() ?? new Promise<T>((resolve, reject) => this.waiting.push({ resolve, reject }));
  }
}

/** The idle timeout of the idle-expiry replicas, ms. */
const IDLE_MS = 1_000;
/** The ID header of the header-token app. */
const TOKEN_HEADER = 'X-Session-Token';

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
  /** Two replicas whose sessions die after a second without a request. */
  let idleReplicas: RunningApp[];
  /** An app whose clients carry their session ID in `X-Session-Token`, never a cookie. */
  let tokenApp: RunningApp;
  let admin: Redis;
  let turn = 0;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    const prefix = uniquePrefix('graphql');
    // Cross-replica events: a session ended on one replica ends its subscriptions on the other.
    const events = { crossReplica: true };
    replicas = [await startGraphqlApp({ redis: redis.url, prefix, events }, driver), await startGraphqlApp({ redis: redis.url, prefix, events }, driver)];
    const idle = { redis: redis.url, prefix: uniquePrefix('graphql-idle'), events, idleTimeout: IDLE_MS };
    idleReplicas = [await startGraphqlApp(idle, driver), await startGraphqlApp(idle, driver)];
    tokenApp = await startGraphqlApp({ redis: redis.url, prefix: uniquePrefix('graphql-token'), events, idFrom: { header: TOKEN_HEADER } }, driver);
  });

  afterAll(async () => {
    await Promise.all([...(replicas ?? []), ...(idleReplicas ?? []), tokenApp].filter(Boolean).map((app) => app.close()));
    admin?.disconnect();
    await redis?.stop();
  });

  /** A browser stand-in whose requests alternate between the replicas (of `apps`). */
  function browser(apps: RunningApp[] = replicas): Visitor {
    return new Visitor(() => apps[turn++ % apps.length].url);
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

  async function loggedIn(id: string, apps: RunningApp[] = replicas): Promise<{ visitor: Visitor; csrfToken: string }> {
    const visitor = browser(apps);
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

  it('saves what a resolver writes to the session on the way out, as for a route', async () => {
    const visitor = browser();
    const csrfToken = (await graphql(visitor, '{ csrfToken }')).data!.csrfToken as string;
    expect(await graphql(visitor, 'mutation { leaveNote(text: "hello") }', {}, csrfToken)).toEqual({ data: { leaveNote: 'hello' } });
    expect((await graphql(visitor, '{ note }')).data).toEqual({ note: 'hello' });
    expect((await graphql(visitor, '{ note }')).data).toEqual({ note: 'hello' });
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

  /**
   * A graphql-ws client on one replica, as a browser with this cookie and Origin would connect; a
   * client without cookies may send other upgrade headers, or `connectionParams` in its `connection_init`.
   */
  function subscriber(
    app: RunningApp,
    cookie: string | undefined,
    origin?: string,
    { headers: upgradeHeaders = {}, connectionParams }: { headers?: Record<string, string>; connectionParams?: Record<string, unknown> } = {},
  ): { client: Client; closed: Promise<{ code: number; reason: string }> } {
    const headers: Record<string, string> = { ...upgradeHeaders };
    if (cookie) headers.cookie = cookie;
    if (origin) headers.origin = origin;
    let closed!: (event: { code: number; reason: string }) => void;
    const closing = new Promise<{ code: number; reason: string }>((resolve) => (closed = resolve));
    const client = createClient({
      url: `${app.url.replace(/^http/, 'ws')}/graphql`,
      lazy: false,
      retryAttempts: 0,
      connectionParams,
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
  function valuesOf<T>(client: Client, query: string): Inbox<T> {
    const values = new Inbox<T>();
    client.subscribe<T>(
      { query },
      {
        next: (value) => (value.errors ? values.fail(asError(value.errors)) : values.put(value.data as T)),
        error: (error) => values.fail(asError(error)),
        complete: () => undefined,
      },
    );
    return values;
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

  // Mercurius runs subscriptions only over its socket ("Invalid operation: mutation"); graphql-ws runs any operation.
  (driver === 'apollo' ? it : it.skip)(
    "runs a mutation sent over the socket under CsrfGuard: the handshake's Origin check guards a socket, as for a gateway",
    async () => {
      const { visitor } = await loggedIn('g-ws-mutation');
      const own = subscriber(replicas[0], visitor.cookie);
      expect(await valuesOf<{ addToCart: string[] }>(own.client, 'mutation { addToCart(item: "by-socket") }').next()).toEqual({ addToCart: ['by-socket'] });
      await own.client.dispose();
    },
  );

  it('an unguarded subscription sees the session, or none for a connection without one, and never makes one', async () => {
    const { visitor } = await loggedIn('g-who');
    const own = subscriber(replicas[0], visitor.cookie);
    expect(await valuesOf<{ whoami: string }>(own.client, 'subscription { whoami }').next()).toEqual({ whoami: 'g-who' });
    const keysBefore = await admin.dbsize();
    const anonymous = subscriber(replicas[1], undefined);
    expect(await valuesOf<{ whoami: string }>(anonymous.client, 'subscription { whoami }').next()).toEqual({ whoami: 'anonymous' });
    await Promise.all([own.client.dispose(), anonymous.client.dispose()]);
    expect(await admin.dbsize()).toBe(keysBefore);
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

  /** A raw `ws` client of Mercurius's legacy `graphql-ws` protocol (subscriptions-transport-ws), acknowledged. */
  async function legacySubscriber(app: RunningApp, cookie?: string): Promise<{ socket: WebSocket; messages: Inbox<unknown>; closed: Promise<unknown> }> {
    const socket = new WebSocket(`${app.url.replace(/^http/, 'ws')}/graphql`, 'graphql-ws', { headers: cookie ? { cookie } : {} });
    const messages = new Inbox<unknown>();
    socket.on('message', (data) => messages.put(JSON.parse((data as Buffer).toString())));
    const closed = new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    expect(await messages.next()).toEqual({ type: 'connection_ack' });
    return { socket, messages, closed };
  }

  (driver === 'mercurius' ? it : it.skip)("Mercurius's legacy graphql-ws protocol: the same session, the same guard, the same end", async () => {
    const { visitor, csrfToken } = await loggedIn('g-legacy');
    const own = await legacySubscriber(replicas[1], visitor.cookie);
    own.socket.send(JSON.stringify({ id: '1', type: 'start', payload: { query: 'subscription { cartChanged }' } }));
    expect(await own.messages.next()).toEqual({ type: 'data', id: '1', payload: { data: { cartChanged: [] } } });

    const anonymous = await legacySubscriber(replicas[0]);
    anonymous.socket.send(JSON.stringify({ id: '1', type: 'start', payload: { query: 'subscription { cartChanged }' } }));
    expect(await anonymous.messages.next()).toMatchObject({ type: 'error', id: '1', payload: [{ message: 'Not logged in' }] });
    anonymous.socket.close();

    expect((await graphql(visitor, 'mutation { logout }', {}, csrfToken)).data).toEqual({ logout: true });
    expect(await own.closed).toEqual({ code: 4403, reason: 'session logout' });
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
  it("ends the subscriptions of a revoked session on every replica, and no other session's", async () => {
    const { visitor } = await loggedIn('g-sub-revoke');
    const { visitor: bystander } = await loggedIn('g-sub-bystander');
    const open = replicas.map((app) => subscriber(app, visitor.cookie));
    for (const { client } of open) expect(await firstTick(client)).toMatch(/^g-sub-revoke:/);
    for (const { client } of open) valuesOf<{ ticks: string }>(client, 'subscription { ticks }'); // running when the session ends
    const other = subscriber(replicas[1], bystander.cookie);
    const otherTicks = valuesOf<{ ticks: string }>(other.client, 'subscription { ticks }');
    expect(await otherTicks.next()).toEqual({ ticks: expect.stringMatching(/^g-sub-bystander:/) });
    // The user's one session, revoked through the service of the other replica.
    const sessions = replicas[0].app.get(SessionService);
    const [session] = await sessions.list('g-sub-revoke');
    expect(await sessions.revoke('g-sub-revoke', session.id)).toBe(true);
    for (const { closed } of open) expect(await within(closed)).toEqual({ code: 4403, reason: 'session revoked' });
    expect(await otherTicks.next()).toEqual({ ticks: expect.stringMatching(/^g-sub-bystander:/) }); // still running
    await other.client.dispose();
  });

  it('an operation started on an open connection gets the session as Redis holds it then, not as the connection found it', async () => {
    const { visitor, csrfToken } = await loggedIn('g-fresh');
    const { client } = subscriber(replicas[0], visitor.cookie);
    const ticks = valuesOf<{ ticks: string }>(client, 'subscription { ticks }'); // holds the one connection open
    expect(await ticks.next()).toEqual({ ticks: expect.stringMatching(/^g-fresh:/) });
    expect((await graphql(visitor, 'mutation { addToCart(item: "apple") }', {}, csrfToken)).data).toEqual({ addToCart: ['apple'] });
    expect(await valuesOf<{ cartChanged: string[] }>(client, 'subscription { cartChanged }').next()).toEqual({ cartChanged: ['apple'] });
  });

  // graphql-ws clients (Apollo) may send every operation over the socket: each is a request of the
  // user's, read and slid as a gateway event is. Mercurius takes only subscriptions there.
  (driver === 'apollo' ? it : it.skip)('operations sent over the socket keep the session alive past its idle timeout', async () => {
    const { visitor } = await loggedIn('g-busy', idleReplicas);
    const { client, closed } = subscriber(idleReplicas[0], visitor.cookie);
    let open = true;
    void closed.then(() => (open = false));
    for (const until = Date.now() + 2.5 * IDLE_MS; Date.now() < until;) {
      expect(await valuesOf<{ me: { id: string } | null }>(client, '{ me { id } }').next()).toEqual({ me: { id: 'g-busy' } });
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS / 4));
    }
    expect(open).toBe(true);
    expect((await graphql(visitor, '{ me { id } }')).data).toEqual({ me: { id: 'g-busy' } });
  });

  it('ends the subscriptions of a session left idle past its idle timeout, on every replica', async () => {
    const { visitor } = await loggedIn('g-sub-idle', idleReplicas);
    const open = idleReplicas.map((app) => subscriber(app, visitor.cookie));
    // A subscription's values are no request: they do not keep the session alive.
    const running = open.map(({ client }) => valuesOf<{ ticks: string }>(client, 'subscription { ticks }'));
    for (const ticks of running) expect(await ticks.next()).toEqual({ ticks: expect.stringMatching(/^g-sub-idle:/) });
    for (const { closed } of open) expect(await within(closed)).toEqual({ code: 4403, reason: 'session expired' });
    expect((await graphql(visitor, '{ me { id } }')).data).toEqual({ me: null });
  });

  /** Logs in on the header-token app without cookies: the session ID comes back in the ID header. */
  async function tokenLogin(id: string): Promise<string> {
    const res = await fetch(`${tokenApp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation ($id: ID!) { login(id: $id) { user { id } } }', variables: { id } }),
    });
    const body = (await res.json()) as GraphqlAnswer;
    expect(body.errors).toBeUndefined();
    expect(res.headers.get('set-cookie')).toBeNull();
    const token = res.headers.get(TOKEN_HEADER);
    expect(token).toBeTruthy();
    return token!;
  }

  it(`a client without cookies subscribes with the header token (${driver === 'apollo' ? 'the upgrade header or connectionParams.token' : 'the upgrade header'}); without it a guarded subscription is refused`, async () => {
    const token = await tokenLogin('g-token');
    const ways = [subscriber(tokenApp, undefined, undefined, { headers: { [TOKEN_HEADER]: token } })];
    if (driver === 'apollo') ways.push(subscriber(tokenApp, undefined, undefined, { connectionParams: { token } }));
    for (const { client } of ways) expect(await firstTick(client)).toMatch(/^g-token:\d+$/);
    for (const { client } of ways) expect(await valuesOf<{ whoami: string }>(client, 'subscription { whoami }').next()).toEqual({ whoami: 'g-token' });

    const anonymous = subscriber(tokenApp, undefined);
    await expect(firstTick(anonymous.client)).rejects.toThrow(/Not logged in|Unauthorized/);
    const forged = subscriber(tokenApp, undefined, undefined, { headers: { [TOKEN_HEADER]: `${token}x` } });
    await expect(firstTick(forged.client)).rejects.toThrow(/Not logged in|Unauthorized/);
    await Promise.all([anonymous.client.dispose(), forged.client.dispose()]);

    // The token's session ends (a logout carrying the header): so do its subscriptions.
    const logout = await fetch(`${tokenApp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [TOKEN_HEADER]: token },
      body: JSON.stringify({ query: 'mutation { logout }' }),
    });
    expect(((await logout.json()) as GraphqlAnswer).data).toEqual({ logout: true });
    for (const { closed } of ways) expect(await within(closed)).toEqual({ code: 4403, reason: 'session logout' });
  });
});
