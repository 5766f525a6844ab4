import * as fc from 'fast-check';
import Redis from 'ioredis';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { startChildSessionApp, type ChildSessionApp } from './support/child-session-app';
import type { SessionStep } from './support/child-session-app.main';
import { keysWithoutTtl } from './support/expectations';
import { Visitor, type TestResponse } from './support/http-client';
import type { ValueSpec } from './support/values';

// Issue 12: whatever keys and values app code puts in a session, through real requests over real
// Redis, the process lives, the answer is a success or the library's clear error, every key under
// the prefix expires, a failed request changes nothing, and other sessions are untouched.
// Bounded: RUNS runs or TIME_LIMIT_MS, whichever comes first. FC_SEED=<seed> replays a failure.

const RUNS = Number(process.env.FC_RUNS ?? 150);
const TIME_LIMIT_MS = 60_000;
// FC_SURVEY=1: do not stop at the first failure; restart a crashed app, tally the kinds of failure.
const SURVEY = process.env.FC_SURVEY === '1';

/** Keys app code could use, the awkward ones first. */
const keyArb = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      'cookie',
      'toString',
      'hasOwnProperty',
      ':c',
      ':k',
      ':',
      '',
      'user',
      'csrfToken',
      'views',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map((s) => `:${s}`) },
  { weight: 2, arbitrary: fc.string({ maxLength: 16, unit: 'binary' }) }, // any code point, lone surrogates included
  { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 16 }) },
);

const leafArb: fc.Arbitrary<ValueSpec> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => ({ $: 'json' as const, v })) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, Number.MIN_VALUE, 0, -1, 2 ** 53).map((v) => ({ $: 'json' as const, v })),
  },
  { weight: 1, arbitrary: fc.constant<ValueSpec>({ $: 'nan' }) },
  { weight: 1, arbitrary: fc.boolean().map((negative): ValueSpec => ({ $: 'infinity', negative })) },
  { weight: 1, arbitrary: fc.bigInt().map((v): ValueSpec => ({ $: 'bigint', v: String(v) })) },
  { weight: 1, arbitrary: fc.constantFrom<ValueSpec>({ $: 'function' }, { $: 'symbol' }, { $: 'undefined' }, { $: 'cycle' }, { $: 'null-prototype' }) },
  { weight: 2, arbitrary: fc.oneof(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.constant('invalid' as const)).map((v): ValueSpec => ({ $: 'date', v })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((depth): ValueSpec => ({ $: 'deep', depth })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ length: fc.integer({ min: 1, max: 120_000 }), of: fc.constantFrom('a', 'é', '😀', '\uD800', '\uDC00', '"\\', '\u0000') })
      .map(({ length, of }): ValueSpec => ({ $: 'long-string', length, of })),
  },
);

const valueArb: fc.Arbitrary<ValueSpec> = fc.letrec<{ value: ValueSpec }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 5, arbitrary: leafArb },
    { weight: 1, arbitrary: fc.array(fc.tuple(keyArb, tie('value')), { maxLength: 3 }).map((entries): ValueSpec => ({ $: 'object', entries })) },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 3 }).map((items): ValueSpec => ({ $: 'array', items })) },
  ),
})).value;

const cookieFieldArb = fc.constantFrom('maxAge', 'expires', 'originalMaxAge', 'secure', 'httpOnly', 'path', 'domain', 'sameSite', 'priority', 'partitioned');

const stepArb: fc.Arbitrary<SessionStep> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), key: keyArb, value: valueArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('update' as const), key: keyArb, value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), key: keyArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('cookie' as const), field: cookieFieldArb, value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('replace-cookie' as const), value: valueArb }) },
  { weight: 1, arbitrary: fc.constantFrom<SessionStep>({ op: 'regenerate' }, { op: 'save' }) },
);

/** A case: whether the visitor has a stored session first, then the steps of one request. */
const caseArb = fc.record({ stored: fc.boolean(), steps: fc.array(stepArb, { minLength: 1, maxLength: 4 }) });

/** Why an answer is not acceptable, or undefined: 2xx, or 4xx/5xx in Nest's shape with the library's message. */
function answerProblem(res: TestResponse): string | undefined {
  if (res.status >= 200 && res.status < 300) return undefined;
  const body = res.body;
  if (res.status < 400 || res.status >= 600) return `status ${res.status}`;
  if (!body || typeof body.message !== 'string' || body.statusCode !== res.status || typeof body.error !== 'string') {
    return `not the error shape: ${JSON.stringify(body)?.slice(0, 300)}`;
  }
  if (/\bERR\b|WRONGTYPE|user_script|script: [0-9a-f]{40}|\n\s+at /.test(body.message)) return `Redis text or a stack: ${body.message.slice(0, 300)}`;
  if (!/session/i.test(body.message)) return `not the library's message: ${body.message.slice(0, 300)}`;
  return undefined;
}

/** Tallies a failing case under each of its problems, message details (keys, numbers) folded away. */
function record(tally: Map<string, { count: number; example: string }>, problems: string[], example: unknown): void {
  for (const problem of problems) {
    const kind = problem
      .replace(/"[^"]*"/g, '"…"')
      .replace(/\d+/g, 'N')
      .slice(0, 160);
    const entry = tally.get(kind) ?? { count: 0, example: JSON.stringify(example).slice(0, 300) };
    entry.count++;
    tally.set(kind, entry);
  }
}

describe('session values, property-based (issue 12)', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let app: ChildSessionApp;
  const prefix = uniquePrefix('property');
  let bystander: Visitor;
  let bystanderData: unknown;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    app = await startChildSessionApp({ redis: redis.url, prefix });
    bystander = new Visitor(() => app.url);
    const made = await bystander.post('/apply', {
      steps: [
        { op: 'set', key: 'views', value: { $: 'json', v: 7 } },
        { op: 'set', key: 'note', value: { $: 'json', v: 'bystander' } },
      ],
    });
    expect(made.status).toBe(200);
    bystanderData = (await bystander.get('/whole')).body;
  }, 90_000);

  afterAll(async () => {
    admin?.disconnect();
    await app?.stop();
    await redis?.stop();
  });

  it(
    `keeps the process, the TTLs, the failed request's session and other sessions intact (${RUNS} runs at most)`,
    async () => {
      const tally = new Map<string, { count: number; example: string }>();
      const property = fc.asyncProperty(caseArb, async ({ stored, steps }) => {
        if (SURVEY && !app.alive()) app = await startChildSessionApp({ redis: redis.url, prefix });
        const visitor = new Visitor(app.url);
        let before: unknown;
        if (stored) {
          expect((await visitor.post('/apply', { steps: [{ op: 'set', key: 'base', value: { $: 'json', v: 1 } }] })).status).toBe(200);
          before = (await visitor.get('/whole')).body;
        }
        let res: TestResponse;
        try {
          // As a string: a `__proto__` key that fc.jsonValue makes would meet Fastify's body guard.
          res = await visitor.post('/apply', { stepsJson: JSON.stringify(steps) });
        } catch (error) {
          await app.exited(2_000);
          const crash = /\n(\w*Error: [^\n]*)/.exec(app.output())?.[1] ?? '';
          const problem = `no answer (${(error as Error).message}); app ${app.exitReason() ?? 'running'}: ${crash}`;
          if (!SURVEY) throw new Error(`${problem}\n${app.output().slice(-1_200)}`, { cause: error });
          record(tally, [problem], { stored, steps });
          return;
        }
        const problems: string[] = [];
        const answer = answerProblem(res);
        if (answer) problems.push(`answer: ${answer}`);
        if (!app.alive()) problems.push(`process ended (${app.exitReason()})`);
        const forever = await keysWithoutTtl(admin, prefix);
        if (forever.length) {
          problems.push(`${forever.length} key(s) without TTL`);
          await Promise.all(forever.map((key) => admin.del(key)));
        }
        // update, save and regenerate write before the handler ends, by design; the rest is written by
        // the save at the end, which must write all of it or nothing.
        const endOfRequestOnly = steps.every((step) => !['update', 'save', 'regenerate'].includes(step.op));
        if (res.status >= 400 && stored && endOfRequestOnly) {
          const after = (await visitor.get('/whole')).body;
          if (JSON.stringify(after) !== JSON.stringify(before)) problems.push(`failed request changed the session: ${JSON.stringify(after)?.slice(0, 200)}`);
        }
        const bystanderNow = (await bystander.get('/whole')).body;
        if (JSON.stringify(bystanderNow) !== JSON.stringify(bystanderData)) problems.push('the bystander session changed');
        if (problems.length && SURVEY) record(tally, problems, { stored, steps });
        else if (problems.length) throw new Error(problems.join('; '));
      });
      await fc.assert(property, {
        numRuns: RUNS,
        interruptAfterTimeLimit: TIME_LIMIT_MS,
        // A failing case may have crashed the app: shrinking would need a restart per attempt.
        endOnFailure: !SURVEY,
        seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined,
      });
      if (SURVEY) {
        const lines = [...tally].sort((a, b) => b[1].count - a[1].count).map(([kind, { count, example }]) => `${count} × ${kind}\n    e.g. ${example}`);
        console.log(`Survey of failures:\n${lines.join('\n') || '(none)'}`);
        expect([...tally.keys()]).toEqual([]);
      }
    },
    TIME_LIMIT_MS + 120_000,
  );
});
