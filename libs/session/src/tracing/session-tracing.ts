import { SessionConfigError } from '../errors/session-config.error';
import { resultOfError, type SessionObserver, type StoreCallFacts, type StoreOperation } from '../redis/session-observer';

/** The few `@opentelemetry/api` members the library uses (typed loosely: it is an optional peer). */
interface OtelApi {
  trace: {
    getTracer(name: string, version?: string): Tracer;
    getTracerProvider(): { getDelegate?(): object };
  };
  SpanStatusCode: { ERROR: number };
}
interface Tracer {
  startActiveSpan<R>(name: string, options: { attributes: Record<string, string | number> }, fn: (span: Span) => R): R;
}
interface Span {
  setAttributes(attributes: Record<string, string | number>): void;
  setStatus(status: { code: number; message?: string }): void;
  end(): void;
}

/**
 * Wraps every gateway call in a span `session.<operation>` (`session.load`, `session.save`,
 * `session.update`, …), made active so an ioredis instrumentation's span nests under it. Attributes
 * are safe by construction: operation, result, bytes and fields changed, never a key, a value or an ID.
 */
export class SessionTracing implements SessionObserver {
  private readonly tracer: Tracer;

  constructor(private readonly api: OtelApi) {
    this.tracer = api.trace.getTracer('nest-redis-session');
  }

  observeStoreCall<T>(operation: StoreOperation, run: () => Promise<T>, describe: (value: T) => StoreCallFacts): Promise<T> {
    return this.tracer.startActiveSpan(`session.${operation}`, { attributes: { 'session.operation': operation } }, (span) =>
      run().then(
        (value) => {
          const { result, bytes, fieldsChanged } = describe(value);
          span.setAttributes({
            'session.result': result,
            ...(bytes === undefined ? {} : { 'session.bytes': bytes }),
            ...(fieldsChanged === undefined ? {} : { 'session.fields_changed': fieldsChanged }),
          });
          span.end();
          return value;
        },
        (error: unknown) => {
          span.setAttributes({ 'session.result': resultOfError(error) });
          // The error's name only: messages are the library's own and hold no data, but a cause might.
          span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: (error as Error)?.name ?? 'Error' });
          span.end();
          throw error;
        },
      ),
    );
  }
}

/**
 * The tracing observer the `tracing` option asks for. `true` requires `@opentelemetry/api`; unset,
 * spans are made only when the API is installed and a tracer provider was registered before the
 * module started (as OpenTelemetry's setup does), so an app without tracing pays nothing.
 */
export function createSessionTracing(setting: boolean | undefined): SessionTracing | undefined {
  if (setting === false) return undefined;
  let api: OtelApi;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    api = require('@opentelemetry/api') as OtelApi;
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code !== 'MODULE_NOT_FOUND') throw error;
    if (setting === true)
      throw new SessionConfigError('tracing', 'needs the optional peer dependency "@opentelemetry/api": run `npm install @opentelemetry/api`');
    return undefined;
  }
  if (setting === undefined && !hasTracerProvider(api)) return undefined;
  return new SessionTracing(api);
}

function hasTracerProvider(api: OtelApi): boolean {
  const delegate = api.trace.getTracerProvider().getDelegate?.();
  return delegate !== undefined && delegate.constructor?.name !== 'NoopTracerProvider';
}
