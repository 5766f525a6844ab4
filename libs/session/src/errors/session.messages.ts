/**
 * Every message this library puts in an error, in one place, so that wording stays consistent and
 * each names the option, key or value at fault.
 */
export const messages = {
  invalidOption: (option: string, problem: string) => `SessionModule option "${option}" ${problem}`,
  storeUnavailable: (detail: string) => `Session store unavailable: ${detail}`,
  storeTimeout: (ms: number) => `Redis did not answer within ${ms} ms`,
  storeDisconnected: (status: string) => `Redis connection is ${status}`,
  noGraphqlRequest: () =>
    "No HTTP request in this GraphQL context (neither `req` nor Mercurius's `reply.request`): give GraphQLModule a context that keeps it, such as `context: ({ req }) => ({ req })` (the default of @nestjs/apollo and @nestjs/mercurius)",
  noSocketSession: () =>
    'No session on this socket: wrap the WebSocket adapter with withSessions(app, adapter) and pass it to app.useWebSocketAdapter (see the README, "WebSockets")',
  noSession: () => 'No session on this request: SessionModule is not mounted for this route (see its "exclude" and "forRoutes" options)',
  socketCannotChangeId: () =>
    "A socket cannot change its session's ID (login, regenerate): no response carries the new cookie to it; do it over HTTP, then reconnect",
  socketWithoutSession: () =>
    'No session on this socket: a socket cannot start one, since no response carries its cookie; sessions start over HTTP (log in, then connect)',
  noSessionOutsideCookiePath: (cookiePath: string) =>
    `No session on this request: its path is outside cookie.path "${cookiePath}", so the browser would never send the session cookie back here ` +
    '(widen option "cookie.path" to cover this route, or carry the ID in a header with option "idFrom")',
  sessionTooLarge: (bytes: number, limit: number) => `Session is ${bytes} bytes, above the limit of ${limit} bytes (option "maxSessionBytes")`,
  reservedKey: (key: string) => `Session key "${key}" starts with ":", which is reserved for the library's own fields`,
  forbiddenKey: (key: string) =>
    `Session key "${key}" is not allowed: the session object inherits a member of that name (such as "__proto__", "constructor" or "save"), so it would not survive a reload`,
  cookieKeyInUpdate: () =>
    'Session key "cookie" holds the cookie\'s settings and cannot be updated with SessionService.update; change req.session.cookie instead',
  notACookie: (got: string) => `Session key "cookie" must stay the session's own express-session Cookie (change its fields, do not replace it); got ${got}`,
  invalidCookieField: (field: string, got: string) => `Session cookie field "${field}" must be a finite number of ms or null; got ${got}`,
  invalidCookieText: (field: string, limit: number, got: string) =>
    `Session cookie field "${field}" must be a string of at most ${limit} characters, or undefined; got ${got}`,
  invalidExpiry: (got: string) =>
    `Session cookie "expires" must be a valid date no later than 9999-12-31 (what a cookie can carry); got ${got} (set through cookie.expires or cookie.maxAge in app code)`,
  unwritableCookie: (reason: string) => `Session cookie cannot be written: ${reason}`,
  secondAnswerDropped: (request: string) =>
    `A second answer to ${request} came while the session of the first was being saved: the first is sent, the second dropped ` +
    '(a handler that sent its answer and then threw, or answered twice)',
  secureCookieOverHttp: (request: string) =>
    `The Secure session cookie of ${request} was not sent: the request did not come over HTTPS. Behind a TLS-terminating proxy, ` +
    'set the framework\'s trust proxy setting (Express "trust proxy", Fastify trustProxy) or the module\'s "trustProxy" option; ' +
    'in local development, cookie.secure: "auto"',
  durabilityShortfall: (acknowledged: number, wanted: number, timeout: number, failure?: string) =>
    `Session durability: ${acknowledged} of ${wanted} replicas acknowledged a security write within ${timeout} ms (option "durability")${failure ? `: ${failure}` : ''}; a failover now could lose it`,
  durabilityNotConnected: () =>
    'Session durability: the connection for security writes is not ready; this write went over the shared connection without waiting for replicas (option "durability")',
  storeRefusing: (code: string) => `Redis is not taking this command for now (${code})`,
  userIndexWrongType: () =>
    "Session store: a user's index of sessions in Redis holds another type of value than the sorted set the library keeps there (WRONGTYPE): delete that key",
  storeRejected: () => "Session store rejected the command; the server log has Redis's reply",
  unserializableKey: (key: string, reason: string) => `Session key "${key}" cannot be stored as JSON: ${reason}`,
  updateConflict: (key: string, attempts: number) => `Session key "${key}" kept changing under concurrent requests; gave up after ${attempts} attempts`,
  sessionGone: () => 'The session ended (logged out, revoked or expired) while this request was running',
  userWithoutId: (got: string) =>
    `SessionService.login(req, user) needs a user whose "id" is a non-empty string of well-formed Unicode or a finite number; got ${got}`,
  badUserIdArgument: (method: string, got: string) =>
    `SessionService.${method} needs a user id that is a non-empty string of well-formed Unicode or a finite number; got ${got}`,
  badHandle: (got: string) => `SessionService.revoke needs a session's handle, the "id" of a row that list() answers (a string); got ${got}`,
  exceptNotARequest: (got: string) =>
    `SessionService.logoutEverywhere's "except" must be the request whose session to keep (or its execution context, or its socket); got ${got}, which no session handling has seen`,
  sessionLimit: (limit: number) => `This user already has ${limit} active sessions (option "users.maxSessions"); log out elsewhere first`,
  corruptKeyValue: (digest: string, key: string) =>
    `Ignoring the value of session key "${key}" of session ${digest.slice(0, 8)}… in Redis (not valid JSON): it reads as absent, and Redis keeps it until the key is assigned`,
  unopenableKeyValue: (digest: string, key: string, reason: string) =>
    `Ignoring the value of session key "${key}" of session ${digest.slice(0, 8)}… in Redis: ${reason} (option "encryption"); it reads as absent, Redis keeps it until the key is assigned, and this session is not reported again`,
  corruptValue: (digest: string, reason: string) => `Ignoring corrupt session ${digest.slice(0, 8)}… in Redis (${reason}); the request continues without it`,
  unopenableValue: (digest: string, reason: string) =>
    `Ignoring session ${digest.slice(0, 8)}… in Redis: ${reason} (option "encryption"); the request continues without it, and this session is not reported again`,
  badUserId: (got: string) => `SessionModule option "users.id" must return a non-empty string of well-formed Unicode, a finite number or undefined; got ${got}`,
  sessionReadTooEarly: () =>
    'req.session was read before SessionModule handled this request. With "forRoutes"/"exclude" (or an app built by ' +
    "@nestjs/testing), the module's middleware runs in Nest's middleware chain, after everything main.ts mounted with " +
    "app.use(), and not at all on excluded routes. Apply passport.session() (or whatever reads the session) in a module's " +
    'configure() through the middleware consumer, for the same routes, or drop "forRoutes"/"exclude"',
  redisCommandsRefused: (user: string, refused: string[], prefix: string, rules: string) =>
    `connects as Redis user "${user}", who may not run ${refused.join('; ')} on keys and channels under "${prefix}". Give the user the library's rights ` +
    `(README "Redis security: TLS and ACL"): ACL SETUSER ${user} ${rules}`,
  redisPermissionsUnchecked: (reason: string) => `Could not check the Redis user's rights at boot (${reason}); a refused command will fail requests instead`,
  invalidSignature: () => 'Session cookie has an invalid signature; the request continues without a session',
  invalidHeaderSignature: (header: string) => `Session header "${header}" has an invalid signature; the request continues without a session`,
  nearCacheRefused: (reply: string) =>
    `Near cache disabled: Redis refused CLIENT TRACKING (${reply}), so this replica could not learn of other writers' changes; every request reads Redis (option "nearCache")`,
  nearCacheFallback: (reply: string) =>
    `Near cache: Redis refused CLIENT TRACKING (${reply}); falling back to PUBLISH from this library's writes, so changes made by other Redis clients are not seen (option "nearCache")`,
  nearCacheDisarmed: (reason: string) => `Near cache flushed and bypassed until Redis invalidations are armed again (${reason})`,
} as const;
