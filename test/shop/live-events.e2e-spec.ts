import { startRedis, type RedisServerHandle } from '../support/redis';
import { waitUntil } from '../support/probe';
import { startShopCluster, type ShopCluster } from './support/shop-cluster';
import { ShopClient } from './support/shop-client';

// The page's live list of session events (GET /api/events, docs/shop-api.md): the events of the
// logged-in user's own sessions, never another user's. The shop runs with cross-replica events, so
// every replica lists what happened to those sessions on any of them.

describe('shop: live session events', () => {
  let redis: RedisServerHandle;
  let shop: ShopCluster;

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    shop = await startShopCluster(redis.url);
  });
  afterAll(async () => {
    await shop?.close();
    await redis?.stop();
  });

  type Line = { type: string; session: string; userId: string | null; replica: string; at: string };

  /** The lines `client`'s session is shown by the replica at `replicaUrl`. */
  async function eventsOn(replicaUrl: string, client: ShopClient): Promise<Line[]> {
    const onReplica = new ShopClient(replicaUrl);
    onReplica.cookie = client.cookie;
    const res = await onReplica.get<Line[]>('/api/events');
    expect(res.status).toBe(200);
    return res.body;
  }

  const types = (lines: Line[]) => lines.map((line) => line.type).sort();

  it('answers 401 to a visitor who is not logged in', async () => {
    expect((await new ShopClient(shop.url).get('/api/events')).status).toBe(401);
  });

  it("lists each user's own sessions' events on every replica, the logout of another device included, and never another user's", async () => {
    const [first, second, third] = shop.replicaUrls;
    // Alice on two devices, each served by its own replica; Bob on the third.
    const aliceLaptop = new ShopClient(first);
    const alicePhone = new ShopClient(second);
    const bob = new ShopClient(third);
    expect((await aliceLaptop.login('alice', 'wonderland')).status).toBe(200);
    expect((await alicePhone.login('alice', 'wonderland')).status).toBe(200);
    expect((await bob.login('bob', 'builder')).status).toBe(200);
    expect((await aliceLaptop.post('/api/auth/logout')).status).toBe(204);

    // Each login is a visit's session (created when the page asked for a CSRF token) that the login moved to a new ID.
    const aliceExpects = ['created', 'created', 'login', 'login', 'logout'];
    const bobExpects = ['created', 'login'];
    for (const replicaUrl of shop.replicaUrls) {
      let alice: Line[] = [];
      let bobs: Line[] = [];
      await waitUntil(`every event of both users listed by ${replicaUrl}`, async () => {
        alice = await eventsOn(replicaUrl, alicePhone);
        bobs = await eventsOn(replicaUrl, bob);
        return types(alice).join() === aliceExpects.join() && types(bobs).join() === bobExpects.join();
      });

      for (const line of [...alice, ...bobs]) {
        expect(Object.keys(line).sort()).toEqual(['at', 'replica', 'session', 'type', 'userId']);
        expect(shop.replicaIds).toContain(line.replica);
        expect(line.session).toMatch(/^[\w-]{8}$/);
      }
      // Newest first.
      expect(alice.map((line) => line.at)).toEqual(
        alice
          .map((line) => line.at)
          .sort()
          .reverse(),
      );
      // Every line names its own user, or none (the visit before a login); no session shows in both lists.
      expect(alice.filter((line) => line.userId !== null).map((line) => line.userId)).toEqual(['1', '1', '1']);
      expect(bobs.filter((line) => line.userId !== null).map((line) => line.userId)).toEqual(['2']);
      const bobSessions = new Set(bobs.map((line) => line.session));
      expect(alice.filter((line) => bobSessions.has(line.session))).toEqual([]);
      // The laptop's logout, seen from the phone: the session of the first login, which replica 1 served.
      const logout = alice.find((line) => line.type === 'logout')!;
      const logins = alice.filter((line) => line.type === 'login').sort((a, b) => a.at.localeCompare(b.at));
      expect(logout).toMatchObject({ session: logins[0].session, replica: shop.replicaIds[0] });
      expect(logins.map((line) => line.replica)).toEqual([shop.replicaIds[0], shop.replicaIds[1]]);
    }

    const page = await alicePhone.get<string>('/');
    expect(page.body).toContain('data-test="events"');
    expect((await alicePhone.get<string>('/events.js')).body).toContain("'data-test', 'event'");
  });
});
