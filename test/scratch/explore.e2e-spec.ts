import Redis from 'ioredis';
import { startRedis } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { startChildSessionApp } from '../session/support/child-session-app';
import { Visitor } from '../session/support/http-client';

it('explores', async () => {
  const redis = await startRedis();
  const admin = new Redis(redis.url);
  const cases: [string, unknown[]][] = [
    ['fresh set __proto__', [{ op: 'set', key: '__proto__', value: { $: 'json', v: { a: 1 } } }]],
    ['fresh set __proto__ null', [{ op: 'set', key: '__proto__', value: { $: 'json', v: null } }]],
    ['fresh update __proto__', [{ op: 'update', key: '__proto__', value: { $: 'json', v: { a: 1 } } }]],
    ['fresh replace cookie string', [{ op: 'set', key: 'v', value: { $: 'json', v: 1 } }, { op: 'replace-cookie', value: { $: 'json', v: 'x' } }]],
    ['fresh expires far', [{ op: 'set', key: 'v', value: { $: 'json', v: 1 } }, { op: 'cookie', field: 'expires', value: { $: 'date', v: 8.64e15 } }]],
    ['fresh maxAge far', [{ op: 'set', key: 'v', value: { $: 'json', v: 1 } }, { op: 'cookie', field: 'maxAge', value: { $: 'json', v: 1e300 } }]],
    ['fresh maxAge NaN', [{ op: 'set', key: 'v', value: { $: 'json', v: 1 } }, { op: 'cookie', field: 'maxAge', value: { $: 'nan' } }]],
    ['fresh expires invalid', [{ op: 'set', key: 'v', value: { $: 'json', v: 1 } }, { op: 'cookie', field: 'expires', value: { $: 'date', v: 'invalid' } }]],
    ['regenerate then maxAge Inf', [{ op: 'regenerate' }, { op: 'cookie', field: 'maxAge', value: { $: 'infinity' } }]],
  ];
  for (const [name, steps] of cases) {
    const prefix = uniquePrefix('x');
    const app = await startChildSessionApp({ redis: redis.url, prefix });
    const v = new Visitor(app.url);
    if (!name.startsWith('fresh')) await v.post('/apply', { steps: [{ op: 'set', key: 'views', value: { $: 'json', v: 1 } }] });
    let res: unknown;
    try { const r = await v.post('/apply', { steps }); res = [r.status, r.body]; } catch (e) { res = String(e); }
    await new Promise((r) => setTimeout(r, 300));
    const keys = await admin.keys(prefix + '*');
    const ttls = await Promise.all(keys.map((k) => admin.pttl(k)));
    console.log(name, JSON.stringify(res), 'alive', app.alive(), app.exitReason(), 'ttls', ttls, app.output().split('\n').filter((l) => /Error|error/.test(l)).slice(0, 3).join(' | '));
    await app.stop();
  }
  admin.disconnect();
  await redis.stop();
}, 300_000);
