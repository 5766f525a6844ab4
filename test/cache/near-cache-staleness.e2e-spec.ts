import { probeStaleness } from '../support/staleness-probe';
import { uniquePrefix } from '../support/prefix';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { startReplicas, type RunningApp } from '../session/support/session-app';
import { Visitor } from '../session/support/http-client';
import { through, untilServing, warmOn } from './support/near-cache-apps';

const TRIALS = 150;

/**
 * Issue 10: the staleness probe against two replicas with near caches. Replica A changes a key (or
 * logs the session out) while replica B reads in a tight loop; no read that starts after A answered
 * may show the old state. The figures are printed; `npm run bench -- --only=staleness` measures them
 * over thousands of trials on a quiet machine.
 */
describe('near cache: the staleness probe', () => {
  let redis: RedisServerHandle;
  let apps: RunningApp[];

  beforeAll(async () => {
    redis = await startRedis();
    apps = await startReplicas(2, { redis: redis.url, prefix: uniquePrefix('near-probe'), nearCache: { maxEntryAge: 3_600_000 } });
    await untilServing(apps);
  });

  afterAll(async () => {
    await Promise.all((apps ?? []).map((app) => app.close()));
    await redis?.stop();
  });

  it(`finds no stale read after the acting request answered: ${TRIALS} changes, ${TRIALS} logouts`, async () => {
    const [a, b] = apps;
    const user = new Visitor(a.url);
    await user.post('/login', { id: 'probe' });
    const colorOnB = async (cookie: string | undefined) => (await through(b, cookie).get('/whole')).body.color;

    const changes = await probeStaleness(TRIALS, async (trial) => {
      await warmOn([b], user.cookie);
      return {
        change: async () => void (await user.post('/set/color', { value: `c${trial}` })),
        showsChange: async () => (await colorOnB(user.cookie)) === `c${trial}`,
      };
    });
    const logouts = await probeStaleness(TRIALS, async (trial) => {
      const visitor = new Visitor(a.url);
      await visitor.post('/login', { id: `probe-${trial}` });
      await visitor.post('/set/color', { value: 'red' });
      const cookie = visitor.cookie;
      await warmOn([b], cookie);
      return {
        change: async () => void (await visitor.post('/logout')),
        showsChange: async () => (await colorOnB(cookie)) === undefined,
      };
    });
    console.log(`near cache staleness probe: ${JSON.stringify({ changes, logouts })}`);
    expect(changes.staleReadsAfterAnswer).toBe(0);
    expect(logouts.staleReadsAfterAnswer).toBe(0);
  }, 120_000);
});
