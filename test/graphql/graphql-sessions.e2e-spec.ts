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
    replicas = [await startGraphqlApp({ redis: redis.url, prefix }), await startGraphqlApp({ redis: redis.url, prefix })];
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
});
