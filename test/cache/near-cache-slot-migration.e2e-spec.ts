import { keySlot } from '@app/session/cache/key-slot';
import { uniquePrefix } from '../support/prefix';
import { joinEmptyMaster, ownerOfSlot, SlotMigration, type JoinedMaster } from '../support/slot-migration';
import { startCluster, topologyAvailable, type Address } from '../support/topologies';
import { startReplicas, type RunningApp } from '../session/support/session-app';
import { Visitor } from '../session/support/http-client';
import { redisKeyOfCookie, through, untilServing, warmOn } from './support/near-cache-apps';

/**
 * Issue 10, §2: a slot that moves from one master to another takes its sessions to a server whose
 * invalidations a replica may not hear yet. Three replicas with a near cache; replica A changes a
 * session whose slot is being migrated, B and C must show the change on their first read once A
 * answered: while the keys sit on the target but the slot is still the source's (ASK), right after
 * the slot is handed over (MOVED), and for a save, an `update` and a logout after that. Once to a
 * master that was tracked from the start, once to a master that joined the cluster after the replicas
 * armed their tracking (only a topology-change flush makes them track it).
 */
const available = topologyAvailable();
const options = { nearCache: { maxEntryAge: 3_600_000 }, redisDeadline: 1_000 };

type Data = Record<string, unknown>;

(available.cluster ? describe : describe.skip)(
  `near cache across a Cluster slot migration${available.cluster ? '' : ` (skipped: ${available.reason})`}`,
  () => {
    let cluster: { nodes: Address[]; stop(): Promise<void> };
    let joined: JoinedMaster | undefined;
    let apps: RunningApp[];

    beforeAll(async () => {
      cluster = await startCluster();
      apps = await startReplicas(3, { redis: { cluster: cluster.nodes }, prefix: uniquePrefix('near-migrate'), ...options });
      await untilServing(apps);
    }, 90_000);

    afterAll(async () => {
      await Promise.all((apps ?? []).map((app) => app.close()));
      await joined?.stop();
      await cluster?.stop();
    });

    async function seenOn(app: RunningApp, cookie: string | undefined): Promise<Data> {
      const res = await through(app, cookie).get('/whole');
      expect(res.status).toBe(200);
      return res.body;
    }

    /** Warms B's and C's caches (once they serve again: a topology change disarms them for a while). */
    async function warmOthers(cookie: string | undefined): Promise<void> {
      await untilServing(apps, 30_000);
      await warmOn(apps.slice(1), cookie);
    }

    /** `change` through A has answered: the very first read on B and on C shows it (`check`), never the old state. */
    async function expectCoherent(cookie: string | undefined, change: () => Promise<void>, check: (data: Data) => void): Promise<void> {
      await change();
      for (const app of apps.slice(1)) check(await seenOn(app, cookie));
    }

    async function migrateUnderLoad(pickTarget: (source: Address) => Address, masters: () => Address[], changesWhileAsking: boolean): Promise<void> {
      const [a] = apps;
      const user = new Visitor(a.url);
      expect((await user.post('/login', { id: `migrating-${Math.random().toString(36).slice(2)}` })).status).toBe(200);
      const setColor = (value: string) => async () => void expect((await user.post('/set/color', { value })).status).toBe(200);
      await setColor('red')();
      const slot = keySlot(redisKeyOfCookie(a.prefix, user.cookie));
      const source = await ownerOfSlot(cluster.nodes[0], slot);
      const target = pickTarget(source);
      const migration = new SlotMigration(slot, source, target, masters());
      await warmOthers(user.cookie);

      // The session now lives on the target; the slot is still the source's, which answers ASK.
      expect(await migration.moveKeys()).toBeGreaterThan(0);
      if (changesWhileAsking) {
        await expectCoherent(user.cookie, setColor('during'), (data) => expect(data.color).toBe('during'));
        await warmOthers(user.cookie);
        await expectCoherent(user.cookie, setColor('still-during'), (data) => expect(data.color).toBe('still-during'));
        await warmOthers(user.cookie);
      }

      // Handed over; the replicas' clients learn it from the next MOVED. A changes at once.
      await migration.assign();
      await expectCoherent(user.cookie, setColor('just-after'), (data) => expect(data.color).toBe('just-after'));

      await warmOthers(user.cookie);
      await expectCoherent(user.cookie, setColor('after'), (data) => expect(data.color).toBe('after'));
      await warmOthers(user.cookie);
      await expectCoherent(
        user.cookie,
        async () => void expect((await user.post('/items', { item: 'book' })).status).toBe(200),
        (data) => expect(data.items).toEqual(['book']),
      );
      await warmOthers(user.cookie);
      await expectCoherent(
        user.cookie,
        async () => void expect((await user.post('/logout')).status).toBe(204),
        (data) => expect(data.user).toBeUndefined(),
      );
    }

    it('shows every change when the slot moves to another master the replicas track', async () => {
      const others = (source: Address) => cluster.nodes.filter((node) => node.port !== source.port);
      await migrateUnderLoad(
        (source) => others(source)[0],
        () => cluster.nodes,
        true,
      );
    }, 90_000);

    it('shows every change when the slot moves to a master that joined after the replicas armed', async () => {
      joined = await joinEmptyMaster(cluster.nodes[0], cluster.nodes);
      // No change while the keys sit on the newcomer and the slot is still the source's: ioredis's
      // auto-pipelined commands do not follow an ASK to a node their client has not met (the pipeline
      // retries on the slot's owner until the redirections run out), so A answers 503 until the handover.
      await migrateUnderLoad(
        () => joined!,
        () => [...cluster.nodes, joined!],
        false,
      );
    }, 90_000);
  },
);
