import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { countAnswers } from './answer-counter';
import type { FastifyInstance } from 'fastify';
import { buildConnectRedisApp } from './connect-redis.app';
import { buildFastifySessionApp } from './fastify-session.app';
import { buildFloorApp } from './floor.app';
import { BENCH_ENCRYPTION_KEY, MODES, platformOf, type BuiltApp, type Mode } from './mode';
import { buildNoneApp } from './none.app';
import { buildOursApp } from './ours.app';
import { countEveryClientByName, countRedisCommands, type RedisCounts } from './redis-counter';

/**
 * Child process entry: one mode's app on a free port of 127.0.0.1. Tells the bench its port over
 * IPC, then answers `counts` (Redis commands sent, acknowledged additions), `trace` and `mark` requests until told to `stop`.
 */
async function main(): Promise<void> {
  const mode = process.env.BENCH_MODE as Mode;
  const redisUrl = process.env.BENCH_REDIS_URL ?? '';
  // Before any client exists; only where asked (the latency section), as it costs a little per command.
  const byName = process.env.BENCH_COUNT_BY_NAME ? countEveryClientByName() : undefined;
  const built = await build(mode, redisUrl);
  const counter = built.redis ? countRedisCommands(built.redis) : undefined;
  const noCounts: RedisCounts = { sent: 0, roundTrips: 0 };
  const answers = countAnswers();
  if (platformOf(mode) === 'express') built.app.use(answers.middleware);
  else {
    // A hook, not `app.use`: that would load Fastify's middleware engine into every Fastify mode.
    const fastify = built.app.getHttpAdapter().getInstance() as FastifyInstance;
    fastify.addHook('onRequest', (request, reply, done) => answers.middleware(request.raw, reply.raw, done));
  }
  await built.app.listen(0, '127.0.0.1');
  const { port } = built.app.getHttpServer().address() as AddressInfo;

  const answer = async (message: { type: string; on?: boolean }) => {
    switch (message.type) {
      case 'counts':
        return process.send!({ type: 'counts', ...(counter?.counts ?? noCounts), ...answers.counts, byName });
      case 'mark': // the clock of --cpu-prof profiles, in microseconds
        return process.send!({ type: 'mark', us: Number(process.hrtime.bigint() / 1_000n) });
      case 'trace':
        counter?.trace(Boolean(message.on));
        return process.send!({ type: 'trace' });
      case 'stop':
        await built.app.close().catch(() => undefined);
        built.redis?.disconnect();
        process.exit(0);
    }
  };
  // Only 'stop' awaits, and its close() cannot reject (caught): nothing is left unhandled.
  process.on('message', (message: { type: string; on?: boolean }) => void answer(message));
  // Lost parent (Ctrl-C of the bench): leave instead of serving for ever.
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', port });
}

// `mode` comes from the environment unchecked: the default branch is reachable.
function build(mode: string, redisUrl: string): Promise<BuiltApp> {
  switch (mode) {
    case 'none':
      return buildNoneApp();
    case 'connect-redis':
      return buildConnectRedisApp(redisUrl);
    case 'ours':
      return buildOursApp(redisUrl);
    case 'ours-metrics':
      return buildOursApp(redisUrl, { metrics: true });
    case 'ours-encrypted':
      return buildOursApp(redisUrl, { encryption: { keys: [BENCH_ENCRYPTION_KEY] } });
    case 'ours-near-cache':
      return buildOursApp(redisUrl, { nearCache: true });
    case 'floor':
      return buildFloorApp(redisUrl);
    case 'floor-cached':
      return buildFloorApp(redisUrl, true);
    case 'none-fastify':
      return buildNoneApp('fastify');
    case 'ours-fastify':
      return buildOursApp(redisUrl, {}, 'fastify');
    case 'floor-fastify':
      return buildFloorApp(redisUrl, false, 'fastify');
    case 'fastify-session':
      return buildFastifySessionApp(redisUrl);
    default:
      throw new Error(`BENCH_MODE must be one of ${MODES.join(', ')}; got "${mode}"`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
