import type { HttpPlatform, SessionRequest } from '@app/session/request/http-platform';
import { STATE, type RequestLifecycle, type RequestSessionState } from '@app/session/request/request-state';
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// Doubles for the unit specs of the HTTP platforms (libs/session/src/request/*-platform.spec.ts): a
// request lifecycle that records what the platform asks of it, and a raw HTTP client that also tells a
// connection cut from an answer. No Redis: what the platforms do with Express and Fastify is tested here,
// the lifecycle's own work in its spec and end to end.

/** What the test makes the fake lifecycle do at `end`: let the response finish, or fail it through the platform. */
export type EndStep = { finish: true } | { fail: { exception: unknown; error: unknown }; thenFinish?: true };

export interface FakeLifecycle {
  /** What the platform asked, in order: `beforeHeaders`, `beforeEnd`, `unavailable`, `generate:<id>`. */
  calls: string[];
  /** Makes a request state for `phase`, as the module's way in would put on the request. */
  state(phase: RequestSessionState['phase'], ending?: boolean): RequestSessionState;
  /** The platform the lifecycle answers through (set once the platform exists). */
  platform?: HttpPlatform;
  /** What `beforeEnd` does after a tick (default: finish). */
  atEnd: EndStep;
  /** The Set-Cookie value `beforeHeaders` appends (none when undefined). */
  cookie?: string;
  /** How many times `beforeEnd` let its response finish. */
  finished: number;
}

export function fakeLifecycle(): FakeLifecycle {
  const fake: FakeLifecycle = {
    calls: [],
    atEnd: { finish: true },
    finished: 0,
    state(phase, ending = false) {
      return { phase, ending, cookieId: undefined, carrier: 'cookie', lifecycle, failure: new Error('Redis is away') };
    },
  };
  const lifecycle = {
    transport: undefined,
    core: { context: { observer: { requestUnavailable: () => fake.calls.push('unavailable') } } },
    generate(req: SessionRequest, id: string) {
      fake.calls.push(`generate:${id.length}`);
      Object.defineProperty(req, 'session', { value: { generated: true }, writable: true, configurable: true, enumerable: true });
    },
    clearCookie: () => undefined,
    beforeHeaders(_req: SessionRequest, _state: RequestSessionState, res: object) {
      fake.calls.push('beforeHeaders');
      if (fake.cookie !== undefined) fake.platform!.appendCookie(res, fake.cookie);
    },
    beforeEnd(_req: SessionRequest, state: RequestSessionState, res: object, finish: () => unknown) {
      fake.calls.push('beforeEnd');
      state.ending = true;
      // The save is asynchronous: the response must wait for it.
      setImmediate(() => {
        const step = fake.atEnd;
        if ('fail' in step) fake.platform!.fail(res, step.fail.exception, step.fail.error);
        if ('fail' in step && !step.thenFinish) return;
        fake.finished++;
        finish();
      });
      return undefined;
    },
  } as unknown as RequestLifecycle;
  return fake;
}

/** Puts `state` on a request, as the module's way in does. */
export function holdState(req: object, state: RequestSessionState | undefined): void {
  if (state) (req as { [STATE]?: RequestSessionState })[STATE] = state;
}

/** The phase a test request asks for in its `x-phase` header (`live`, `live-ending`, `failed`), or none. */
export function phaseAsked(headers: IncomingHttpHeaders): { phase: RequestSessionState['phase']; ending: boolean } | undefined {
  const asked = headers['x-phase'];
  if (asked === undefined) return undefined;
  if (asked === 'live-ending') return { phase: 'live', ending: true };
  if (asked === 'live' || asked === 'failed' || asked === 'pending') return { phase: asked, ending: false };
  throw new Error(`x-phase "${String(asked)}" is not one the doubles know`);
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request over a new connection; rejects when the server cuts the connection instead of answering in full. */
export function send(server: Server, path: string, options: { method?: string; headers?: OutgoingHttpHeaders; body?: string } = {}): Promise<RawAnswer> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('the connection was cut mid-answer')));
      res.on('end', () => (res.complete ? resolve({ status: res.statusCode!, headers: res.headers, body }) : reject(new Error('the answer ended incomplete'))));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Listens on a free port of 127.0.0.1. */
export async function listening(server: Server): Promise<Server> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

export async function closed(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
