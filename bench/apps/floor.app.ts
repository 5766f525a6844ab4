import { BadRequestException, Body, Controller, Get, HttpCode, Inject, Module, Param, Post, Req, Res } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createRedisConnection, whenReady } from '@app/session/redis/create-redis-connection';
import { SESSION_DEFAULTS } from '@app/session';
import { PREF_KEY, addLine, benchUser, type CartLine } from './cart';
import { BENCH_SECRET, IDLE_TIMEOUT_S, type BuiltApp, type Platform } from './mode';
import { createBenchApp } from './platform';

/** A session as the floor holds it: each top-level key parsed from its own hash field. */
type FloorSession = Record<string, unknown>;
/** The hash as Redis holds it: each field a JSON string. */
type Fields = Record<string, string>;
type FloorRequest = Omit<Request, 'session'> & { session?: FloorSession };
/** What the login and logout routes need of a reply: Express's `res.header` and Fastify's `reply.header` both fit. */
type CookieReply = { header(name: string, value: string): unknown };

/** On Fastify, what the way in read for a request, for the way out (`onSend`) to compare with. */
const OPENED = Symbol('floor:opened');
interface Opened {
  key: string;
  read: Fields;
  session: FloorSession;
}
type FloorFastifyRequest = FastifyRequest & { session?: FloorSession; [OPENED]?: Opened };

const COOKIE_NAME = 'sid';
const PREFIX = 'sess:';
const TTL_MS = IDLE_TIMEOUT_S * 1_000;

/**
 * A MEASURING STICK, NOT A PRODUCT: the least a Redis-backed session layer can do per request on this
 * stack, so the report can show how close to the ceiling any such layer can get. Way in: the signed
 * cookie (same format as ours: `s:<id>.<HMAC-SHA256>`, compared in constant time), the Redis key
 * `prefix + SHA-256(id)`, one HGETALL, JSON.parse of each field into a plain `req.session`. Way out
 * (`res.end` wrapped): JSON.stringify of each key compared with what was read; the changed fields
 * written in one round trip before the response ends, by a compare-and-set (each changed field must
 * still hold what the request read; a conflict answers 409), as a layer that loses no update must. No
 * cookie, no session, no Redis command. With `cached` (the `floor-cached` mode) the HGETALL happens
 * once per session per process: a near cache with no coherence at all, still parsing per request.
 *
 * Left out on purpose (ours does them): renewal, timeouts beyond the TTL, retrying a conflict (or
 * queueing one process's updates of a key), size limits, events, metrics, device metadata,
 * and any bound on the maps (the bench has 200 sessions). Verified cookies are remembered, as ours
 * does, so neither the HMAC nor the digest is computed again for a cookie already seen.
 *
 * On Fastify (`floor-fastify`) the same steps run in Fastify's hooks instead of Express middleware:
 * the way in in `onRequest`, the way out in `onSend` (before Fastify writes anything, as ours does).
 */
class FloorSessions {
  /** Verified cookie value → Redis key: only values whose signature matched enter. */
  private readonly keys = new Map<string, string>();

  constructor(
    readonly redis: Redis,
    private readonly cache?: Map<string, Fields>,
    /** Keep the five metadata fields ours keeps per logged-in session, and so read them (the `floor-metadata` mode of bench:cpu). */
    private readonly metadata = false,
  ) {}

  readonly middleware = (req: FloorRequest, res: Response, next: NextFunction): void => {
    const key = this.keyOf(req.headers.cookie);
    if (key === undefined) return next();
    const cached = this.cache?.get(key);
    if (cached) return this.attach(req, res, next, key, cached);
    this.redis
      .hgetall(key)
      .then((fields) => {
        if (this.cache && Object.keys(fields).length) this.cache.set(key, fields);
        this.attach(req, res, next, key, fields);
      })
      .catch(() => unavailable(res));
  };

  /** Fastify: the same way in as an `onRequest` hook, the same way out as an `onSend` hook. */
  install(fastify: FastifyInstance): void {
    // Declared up front, so every request keeps one shape (Fastify's advice for decorations).
    fastify.decorateRequest('session', undefined);
    fastify.decorateRequest(OPENED as unknown as string, undefined);
    fastify.addHook('onRequest', (request, reply, done) => {
      const key = this.keyOf(request.headers.cookie);
      if (key === undefined) return done();
      const cached = this.cache?.get(key);
      if (cached) {
        this.open(request, key, cached);
        return done();
      }
      this.redis.hgetall(key).then(
        (fields) => {
          if (this.cache && Object.keys(fields).length) this.cache.set(key, fields);
          this.open(request, key, fields);
          done();
        },
        () => void reply.code(503).type('text/plain').send('session store unavailable'),
      );
    });
    fastify.addHook('onSend', (request: FloorFastifyRequest, reply: FastifyReply, payload: unknown, done: (error: Error | null, payload?: unknown) => void) => {
      const opened = request[OPENED];
      const changed = opened && request.session === opened.session ? changesOf(opened.session, opened.read) : undefined;
      if (!opened || !changed) return done(null, payload);
      this.save(opened.key, opened.read, changed).then(
        () => done(null, payload),
        (error: unknown) => {
          const lost = error instanceof FloorConflict;
          reply.code(lost ? 409 : 503).type('text/plain');
          done(null, lost ? 'session changed meanwhile' : 'session store unavailable');
        },
      );
    });
  }

  async login(req: FloorRequest, res: CookieReply, userId: string): Promise<void> {
    const oldKey = req.session && this.keyOf(req.headers.cookie);
    const id = randomBytes(24).toString('base64url'); // as many bits as ours and express-session
    const key = PREFIX + digest(id);
    const session: FloorSession = { ...req.session, user: benchUser(userId) };
    const fields: Fields = {};
    for (const field in session) fields[field] = JSON.stringify(session[field]);
    if (this.metadata) Object.assign(fields, metadataFields(req));
    await Promise.all([this.redis.hset(key, fields), this.redis.pexpire(key, TTL_MS), oldKey && this.redis.del(oldKey)]);
    this.cache?.set(key, fields);
    if (oldKey) this.cache?.delete(oldKey);
    req.session = session; // another object: the way out leaves it alone (written above)
    res.header('Set-Cookie', `${COOKIE_NAME}=${encodeURIComponent(`s:${id}.${mac(id)}`)}; Path=/; HttpOnly; SameSite=Lax`);
  }

  async logout(req: FloorRequest, res: CookieReply): Promise<void> {
    const key = req.session && this.keyOf(req.headers.cookie);
    req.session = undefined; // nothing to write on the way out
    if (!key) return;
    this.cache?.delete(key);
    await this.redis.del(key);
    res.header('Set-Cookie', `${COOKIE_NAME}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax`);
  }

  private keyOf(header: string | undefined): string | undefined {
    const raw = cookieValue(header);
    if (raw === undefined) return undefined;
    let key = this.keys.get(raw);
    if (key === undefined) {
      const id = unsign(raw);
      if (id === undefined) return undefined;
      key = PREFIX + digest(id);
      this.keys.set(raw, key);
    }
    return key;
  }

  /** Fastify's way in: the session on the request, and what was read kept for `onSend`. */
  private open(request: FloorFastifyRequest, key: string, read: Fields): void {
    const session = parse(read);
    if (!session) return;
    request.session = session;
    request[OPENED] = { key, read, session };
  }

  /** `read` empty: no session (absent or expired), and none is made. */
  private attach(req: FloorRequest, res: Response, next: NextFunction, key: string, read: Fields): void {
    const session = parse(read);
    if (!session) return next();
    req.session = session;
    const end = res.end;
    res.end = ((...args: Parameters<Response['end']>) => {
      res.end = end;
      const changed = req.session === session ? changesOf(session, read) : undefined;
      if (!changed) return end.apply(res, args);
      this.save(key, read, changed).then(
        () => end.apply(res, args),
        (error: unknown) => (error instanceof FloorConflict ? conflict(res) : unavailable(res)),
      );
      return res;
    }) as Response['end'];
    next();
  }

  /**
   * One round trip: a compare-and-set of the changed fields (each must still hold what this request
   * read), the least a layer that loses no update can send. A conflict answers 409: the floor does
   * not retry, the bench's spread writes never meet one.
   */
  private async save(key: string, read: Fields, changed: { set?: Fields; removed?: string[] }): Promise<void> {
    const triples: string[] = [];
    for (const field in changed.set) triples.push(field, read[field] ?? '', changed.set[field]);
    for (const field of changed.removed ?? []) triples.push(field, read[field] ?? '', '');
    const written = await (this.redis as FloorClient).floorCompareAndSet(key, TTL_MS, ...triples);
    if (written !== 1) throw new FloorConflict();
    if (!this.cache) return;
    const after = { ...read, ...changed.set };
    for (const field of changed.removed ?? []) delete after[field];
    this.cache.set(key, after);
  }
}

/** First character of a metadata field (":"), as ours spells them. */
const METADATA_MARK = 58;

/**
 * The fields ours keeps beside a logged-in session's data, with the same names and sizes: creation
 * and expiry times (the absolute and idle timeouts), last seen, the User-Agent and the IP (what
 * `list` shows). In the `floor-metadata` mode of `npm run bench:cpu` the floor stores them at login and so reads them with every
 * HGETALL, leaving them alone otherwise: the share of ours' cost that is only reading them.
 */
function metadataFields(req: FloorRequest): Fields {
  const now = Date.now();
  return {
    ':c': String(now),
    ':e': String(now + TTL_MS),
    ':s': String(now),
    ':u': String(req.headers['user-agent'] ?? '').slice(0, 256),
    ':i': req.ip ?? '',
  };
}

/** Each field of the hash parsed; undefined when it has none (no session, and none is made). */
function parse(read: Fields): FloorSession | undefined {
  const session: FloorSession = {};
  let any = false;
  for (const field in read) {
    if (field.charCodeAt(0) === METADATA_MARK) continue; // metadata (`floor-metadata`): read, never parsed
    session[field] = JSON.parse(read[field]);
    any = true;
  }
  return any ? session : undefined;
}

/** A compare-and-set that found another value than the request read. */
class FloorConflict extends Error {}

/**
 * The floor's compare-and-set: ARGV is the TTL, then (field, value read, value to write) triples;
 * '' stands for absent (no JSON is empty). Checks every field first, then writes them all and the
 * TTL; answers 0, writing nothing, when one changed meanwhile.
 */
const FLOOR_COMPARE_AND_SET = `
for i = 2, #ARGV, 3 do
  if (redis.call('HGET', KEYS[1], ARGV[i]) or '') ~= ARGV[i + 1] then return 0 end
end
for i = 2, #ARGV, 3 do
  if ARGV[i + 2] == '' then redis.call('HDEL', KEYS[1], ARGV[i]) else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2]) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`;

type FloorClient = Redis & { floorCompareAndSet(key: string, ttl: number, ...triples: string[]): Promise<number> };

/** The keys whose JSON differs from what was read, and those gone (or set to undefined). */
function changesOf(session: FloorSession, read: Fields): { set?: Fields; removed?: string[] } | undefined {
  let set: Fields | undefined;
  let removed: string[] | undefined;
  for (const field in session) {
    const json = JSON.stringify(session[field]) as string | undefined;
    if (json === undefined) (removed ??= []).push(field);
    else if (json !== read[field]) (set ??= {})[field] = json;
  }
  for (const field in read) if (field.charCodeAt(0) !== METADATA_MARK && !(field in session)) (removed ??= []).push(field);
  return set || removed ? { set, removed } : undefined;
}

function conflict(res: Response): void {
  if (res.headersSent) return void res.destroy();
  res.removeHeader('Content-Length');
  res.status(409).type('text/plain');
  res.end('session changed meanwhile');
}

function unavailable(res: Response): void {
  if (res.headersSent) return void res.destroy();
  res.removeHeader('Content-Length');
  res.status(503).type('text/plain');
  res.end('session store unavailable');
}

function cookieValue(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const at = header.startsWith(`${COOKIE_NAME}=`) ? 0 : header.indexOf(`; ${COOKIE_NAME}=`) + 2;
  if (at === 1) return undefined;
  const end = header.indexOf(';', at);
  return header.slice(at + COOKIE_NAME.length + 1, end === -1 ? undefined : end);
}

function unsign(raw: string): string | undefined {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  const dot = value.lastIndexOf('.');
  if (!value.startsWith('s:') || dot < 3) return undefined;
  const id = value.slice(2, dot);
  const given = Buffer.from(value.slice(dot + 1));
  const expected = Buffer.from(mac(id));
  return given.length === expected.length && timingSafeEqual(given, expected) ? id : undefined;
}

function mac(id: string): string {
  return createHmac('sha256', BENCH_SECRET).update(id).digest('base64').replace(/=+$/, '');
}

/** As ours names keys: 32 base64url characters of the ID's SHA-256, never the ID itself. */
function digest(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 32);
}

@Controller()
class CartController {
  constructor(@Inject(FloorSessions) private readonly sessions: FloorSessions) {}

  @Get('cart')
  cart(@Req() req: FloorRequest): CartLine[] {
    return (req.session?.cart as CartLine[] | undefined) ?? [];
  }

  /** Without a session, answers as the others do and keeps nothing: a visitor without one makes none. */
  @Post('cart/items')
  @HttpCode(200)
  add(@Req() req: FloorRequest, @Body() line: CartLine): CartLine[] {
    const cart = addLine((req.session?.cart as CartLine[] | undefined) ?? [], line);
    if (req.session) req.session.cart = cart;
    return cart;
  }

  @Post('prefs/:key')
  @HttpCode(200)
  setPref(@Req() req: FloorRequest, @Param('key') key: string, @Body() body: { value: unknown }): { ok: true } {
    if (!PREF_KEY.test(key)) throw new BadRequestException(`key must match ${PREF_KEY}`);
    if (req.session) req.session[key] = body.value;
    return { ok: true };
  }

  @Get('prefs/:key')
  pref(@Req() req: FloorRequest, @Param('key') key: string): { value: unknown } {
    return { value: req.session?.[key] ?? null };
  }

  @Post('logout')
  @HttpCode(204)
  logout(@Req() req: FloorRequest, @Res({ passthrough: true }) res: CookieReply): Promise<void> {
    return this.sessions.logout(req, res);
  }

  @Post('login')
  @HttpCode(200)
  async login(@Req() req: FloorRequest, @Res({ passthrough: true }) res: CookieReply, @Body() body: { userId: string }): Promise<{ ok: true }> {
    await this.sessions.login(req, res, body.userId);
    return { ok: true };
  }
}

/**
 * The `floor` mode (`cached`: `floor-cached`): the floor's middleware mounted with `app.use`, over a
 * client made as ours makes it (`createRedisConnection`: auto-pipelining, no offline queue). On
 * Fastify (`floor-fastify`): the same steps as hooks on Fastify's instance, the same controller.
 */
export async function buildFloorApp(redisUrl: string, cached = false, platform: Platform = 'express', metadata = false): Promise<BuiltApp> {
  const redis = createRedisConnection(redisUrl, SESSION_DEFAULTS.redisDeadline).client as Redis;
  await whenReady(redis, 5_000);
  redis.defineCommand('floorCompareAndSet', { numberOfKeys: 1, lua: FLOOR_COMPARE_AND_SET });
  const sessions = new FloorSessions(redis, cached ? new Map() : undefined, metadata);
  @Module({ controllers: [CartController], providers: [{ provide: FloorSessions, useValue: sessions }] })
  class FloorAppModule {}
  const app = await createBenchApp(FloorAppModule, platform);
  if (platform === 'fastify') sessions.install(app.getHttpAdapter().getInstance() as FastifyInstance);
  else app.use(sessions.middleware);
  return { app, redis };
}
