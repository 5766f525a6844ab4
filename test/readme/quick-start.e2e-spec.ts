import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { createNestApp } from '../support/http-platform';
import { Visitor } from '../session/support/http-client';

const README = join(__dirname, '../../libs/session/README.md'); // the page published with the package
const GENERATED = join(__dirname, '.generated');

/** The library README's quick start, exactly as written there, pasted into an app and booted. */
function quickStartSource(): string {
  const readme = readFileSync(README, 'utf8');
  const block = /<!-- quick-start:begin -->\s*```ts\n([\s\S]*?)```\s*<!-- quick-start:end -->/.exec(readme);
  if (!block) throw new Error('README.md has no quick-start block between the quick-start markers');
  // Inside the monorepo the published package name resolves to the library's source.
  return block[1].replace(/from 'nest-redis-session'/g, "from '@app/session'");
}

describe("the README's quick start", () => {
  let redis: RedisServerHandle;

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    rmSync(GENERATED, { recursive: true, force: true });
    await redis?.stop();
  });

  it('boots and keeps a cart across requests', async () => {
    mkdirSync(GENERATED, { recursive: true });
    const file = join(GENERATED, 'quick-start.ts');
    writeFileSync(file, quickStartSource());
    const previous = { secret: process.env.SESSION_SECRET, url: process.env.REDIS_URL };
    process.env.SESSION_SECRET = 'a-secret-of-at-least-32-characters!!';
    process.env.REDIS_URL = redis.url;
    const { AppModule } = await import(file);
    const app = await createNestApp(AppModule, { logger: false });
    try {
      await app.listen(0, '127.0.0.1');
      const visitor = new Visitor(await app.getUrl());
      expect((await visitor.get('/cart')).body).toEqual([]);
      expect(visitor.cookie).toBeUndefined();
      await visitor.post('/cart', { sku: 'tea' });
      await visitor.post('/cart', { sku: 'cake' });
      expect((await visitor.get('/cart')).body).toEqual(['tea', 'cake']);
    } finally {
      await app.close();
      restoreEnv('SESSION_SECRET', previous.secret);
      restoreEnv('REDIS_URL', previous.url);
    }
  });
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
