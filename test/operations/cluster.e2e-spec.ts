import { Cluster } from 'ioredis';
import { ActiveSessions } from '@app/session/metrics/active-sessions';
import { SessionGateway } from '@app/session/redis/session-gateway';
import { probeSessionStore } from '@app/session/health';
import { startCluster, topologyAvailable } from '../support/topologies';
import { uniquePrefix } from '../support/prefix';

const available = topologyAvailable();
const describeCluster = available.cluster ? describe : describe.skip;

/**
 * On Redis Cluster a script may touch one slot only and PFCOUNT merges keys of one slot only: the
 * activity buckets share a hash tag, so both work; the health check reads every master.
 */
describeCluster(`operations on Redis Cluster${available.cluster ? '' : ` (skipped: ${available.reason})`}`, () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let client: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
    client = new Cluster(cluster.nodes);
  });
  afterAll(async () => {
    await client?.quit();
    await cluster?.stop();
  });

  it('estimates active sessions and users with keys spread over every slot', async () => {
    const prefix = uniquePrefix('cluster-activity');
    const activity = new ActiveSessions(new SessionGateway({ client, deadline: 2_000 }), { prefix, window: 60_000, logger: console });
    // Fixed members, so the estimate is the same on every run (random ones could share a register).
    for (let i = 0; i < 50; i++) activity.note(`digest-${i}`, i < 10 ? `user-${i % 5}` : undefined);
    const { sessions, users } = await activity.count();
    // An estimate: with these 50 members two share a HyperLogLog register (48); within a few percent either way.
    expect(Math.abs(sessions - 50)).toBeLessThanOrEqual(3);
    expect(users).toBe(5);
  });

  it('reports the cluster state and the role and policy of every master', async () => {
    const health = await probeSessionStore(client, { timeout: 2_000 });
    expect(health).toMatchObject({ clusterState: 'ok', role: 'master', maxmemoryPolicy: 'noeviction', problems: [] });
  });
});
