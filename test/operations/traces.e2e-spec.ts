import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { dbStatementSerializer } from '@app/session';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { startSessionApp, type RunningApp } from '../session/support/session-app';
import { Visitor } from '../session/support/http-client';
import { digestOf } from '../support/key-scheme';

const CART_ITEM = 'secret-cart-item-7f3a';

/**
 * A login traced end to end, with the library's own spans and the ioredis instrumentation: with the
 * library's `dbStatementSerializer`, nothing in any span holds the cart, the CSRF token or the session ID.
 */
describe('traces', () => {
  let redis: RedisServerHandle;
  let app: RunningApp;
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager();
  const instrumentation = new IORedisInstrumentation({ dbStatementSerializer });

  beforeAll(async () => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
    instrumentation.setTracerProvider(provider);
    // Jest loads modules through its own registry, which the instrumentation's require hook never
    // sees: patch the ioredis this test (and the app) loads directly.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the very module object Jest's registry hands the app
    const ioredis = require('ioredis');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- its version, as the instrumentation expects it
    const { version } = require('ioredis/package.json') as { version: string };
    for (const definition of instrumentation.init()) definition.patch?.(ioredis, version);
    redis = await startRedis();
    // `tracing` left unset: a tracer provider is registered, so the module traces.
    app = await startSessionApp({ redis: redis.url, prefix: uniquePrefix('traces') });
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
    instrumentation.disable();
    trace.disable();
    context.disable();
  });

  /** Logs in a visitor with a cart; answers what must never reach a trace. */
  async function tracedLogin(): Promise<{ secrets: string[]; spans: ReadableSpan[] }> {
    exporter.reset();
    const visitor = new Visitor(app.url);
    await visitor.post('/set/cart', { value: [CART_ITEM] });
    const firstId = sessionIdOf(visitor.cookie!);
    const login = await visitor.post('/login', { id: 'ada' });
    expect(login.status).toBe(200);
    await visitor.get('/whole');
    const sessionId = sessionIdOf(visitor.cookie!);
    const secrets = [CART_ITEM, login.body.csrfToken, firstId, sessionId, digestOf(firstId), digestOf(sessionId)];
    return { secrets, spans: exporter.getFinishedSpans() };
  }

  it('wraps store calls in session.* spans with safe attributes, and ioredis spans under them hold no session data', async () => {
    const { secrets, spans } = await tracedLogin();
    const names = spans.map((span) => span.name);
    expect(names).toEqual(expect.arrayContaining(['session.load', 'session.save', 'session.index', 'session.destroy']));
    const save = spans.find((span) => span.name === 'session.save')!;
    expect(save.attributes).toMatchObject({
      'session.operation': 'save',
      'session.result': 'ok',
      'session.fields_changed': expect.any(Number),
      'session.bytes': expect.any(Number),
    });
    // The instrumentation's spans exist (so the check below looks at real statements) and nest under ours.
    const redisSpans = spans.filter((span) => !span.name.startsWith('session.'));
    expect(redisSpans.length).toBeGreaterThan(0);
    const ourIds = new Set(spans.filter((span) => span.name.startsWith('session.')).map((span) => span.spanContext().spanId));
    expect(redisSpans.every((span) => ourIds.has(span.parentSpanContext?.spanId ?? ''))).toBe(true);
    expect(redisSpans.map((span) => span.attributes['db.query.text'] ?? span.attributes['db.statement'])).toContainEqual(
      expect.stringMatching(/^EVALSHA [0-9a-f]{40} 1( \?)+$/),
    );
    const everything = JSON.stringify(spans.map((span) => ({ name: span.name, attributes: span.attributes, events: span.events, status: span.status })));
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });

  it("would leak them with the instrumentation's default serializer (what the helper is for)", async () => {
    instrumentation.setConfig({});
    try {
      const { spans } = await tracedLogin();
      expect(JSON.stringify(spans.map((span) => span.attributes))).toContain(CART_ITEM);
    } finally {
      instrumentation.setConfig({ dbStatementSerializer });
    }
  });
});

/** The session ID inside a signed cookie `sid=s%3A<id>.<signature>`. */
function sessionIdOf(cookie: string): string {
  const value = decodeURIComponent(cookie.split('=')[1]);
  return value.slice(2, value.lastIndexOf('.'));
}
