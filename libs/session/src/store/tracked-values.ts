import { isLeftSealed, openLeftSealed } from './left-sealed';
import { CORRUPT, UNPARSED, stateOf, type SessionState, type TrackedValues } from './session-state';

/*
 * The end-of-request save compares every top-level key of the session with the JSON Redis holds,
 * which means one JSON.stringify per key per request: in a session of 50 keys, 50 for a change of one,
 * and as many for a request that only read. A key's value can only have changed if the handler
 * reached it: assigned it, or read it (an object read may be changed in place). So the object
 * values of a session read from Redis go onto the request's session behind accessors that note the
 * keys reached; a key never reached is known to be unchanged and its JSON is the one read, with no
 * stringify.
 *
 * A request's read goes further (`decodeSession` with a reporter): an object or array value is not
 * even parsed until something reaches it, so a request pays for the keys it uses, not for the
 * session's width. A value that turns out not to be valid JSON is reported when first reached and
 * reads as absent; Redis keeps it as it is until app code assigns the key.
 *
 * The accessors are shared by every session with a key of that name, so sessions of one shape share
 * V8's hidden classes as plain data properties would. A key deleted and assigned again is a plain
 * data property: the check below asks whether the key still holds the accessor, not only whether it
 * was reached.
 */

/** Accessors shared per key name; bounded, so keys made up per request cannot grow it without end. */
const accessors = new Map<string, PropertyDescriptor>();
const MAX_SHARED_ACCESSORS = 1_024;
/** Every tracking getter, shared or not, to tell the accessor from whatever replaced it. */
const trackingGetters = new WeakSet<object>();

/** False while the library itself reads the session (see `readUntracked`): its reads change nothing. */
let marking = true;

function accessorFor(key: string): PropertyDescriptor {
  const shared = accessors.get(key);
  if (shared) return shared;
  function get(this: object): unknown {
    const tracked = trackedOf(this);
    if (!tracked) return undefined;
    let value = tracked.values.get(key);
    if (value === UNPARSED) {
      value = parseStored(stateOf(this)!, tracked.json, key);
      tracked.values.set(key, value);
    }
    // A corrupt value is not reached: the save keeps what Redis holds rather than deleting it.
    if (value === CORRUPT) return undefined;
    if (marking) tracked.reached.add(key);
    return value;
  }
  function set(this: object, value: unknown): void {
    const tracked = trackedOf(this);
    if (!tracked) {
      Object.defineProperty(this, key, { value, writable: true, enumerable: true, configurable: true });
      return;
    }
    tracked.reached.add(key);
    tracked.values.set(key, value);
  }
  trackingGetters.add(get);
  const accessor: PropertyDescriptor = { enumerable: true, configurable: true, get, set };
  if (accessors.size < MAX_SHARED_ACCESSORS) accessors.set(key, accessor);
  return accessor;
}

function trackedOf(session: object): TrackedValues | undefined {
  return stateOf(session)?.tracked;
}

/** The value of `key` parsed (and opened) from `json`, or `CORRUPT` (reported) when it is not valid JSON or does not open. */
function parseStored(state: SessionState, json: Map<string, string> | null, key: string): unknown {
  let text = json?.get(key);
  if (text !== undefined && isLeftSealed(text)) {
    text = openLeftSealed(state, json!, key);
    if (text === undefined) return CORRUPT; // reported
  }
  if (text !== undefined) {
    try {
      return JSON.parse(text);
    } catch {
      // reported below
    }
  }
  state.reporter?.ignoreCorruptKey(state.redisKey, key);
  return CORRUPT;
}

/** Lazy accessors of decoded data, shared per key name as the tracking ones are. */
const lazyAccessors = new Map<string, PropertyDescriptor>();

/**
 * The accessor a lazy read puts on the decoded data for an unparsed key: the first read parses the
 * JSON and keeps the value in `state.lazy` (the property stays an accessor: turning it into a data
 * property would cost the object its fast shape); a corrupt value reads as absent. Whoever uses the
 * data before it reaches a request (the user index's entry, `store.get`'s callers) sees values, as
 * from an eager read, and the request then gets the very objects they saw.
 */
export function lazyDataAccessor(key: string): PropertyDescriptor {
  const shared = lazyAccessors.get(key);
  if (shared) return shared;
  function get(this: object): unknown {
    const state = stateOf(this);
    const lazy = state?.lazy;
    if (!lazy) return undefined;
    let value = lazy.get(key);
    if (value === UNPARSED) {
      value = parseStored(state, state.stored, key);
      lazy.set(key, value);
    }
    return value === CORRUPT ? undefined : value;
  }
  function set(this: object, value: unknown): void {
    stateOf(this)?.lazy?.set(key, value);
  }
  const accessor: PropertyDescriptor = { enumerable: true, configurable: true, get, set };
  if (lazyAccessors.size < MAX_SHARED_ACCESSORS) lazyAccessors.set(key, accessor);
  return accessor;
}

/**
 * Puts a decoded session's values on `session`, as express-session's Session constructor copies
 * them (keys the session object already has, such as its methods, are skipped): primitives as plain
 * properties, objects (and values a lazy read left unparsed) behind the tracking accessors. `state`
 * is the session's, already attached.
 */
export function putTrackedValues(session: object, data: object, state: SessionState): void {
  const target = session as Record<string, unknown>;
  const source = data as Record<string, unknown>;
  const lazy = state.lazy;
  let tracked: TrackedValues | undefined;
  for (const key in source) {
    if (key === 'cookie' || key in session) continue;
    const json = state.stored?.get(key);
    if (lazy?.has(key) && json !== undefined) {
      // Read lazily: its value (or mark, when not parsed yet or corrupt) goes behind the accessor as it is.
      tracked ??= state.tracked = { values: new Map(), json: state.stored!, reached: new Set() };
      tracked.values.set(key, lazy.get(key));
      Object.defineProperty(session, key, accessorFor(key));
      continue;
    }
    const value = source[key];
    if (value === null || typeof value !== 'object' || json === undefined) {
      target[key] = value;
      continue;
    }
    // `json` is the map of what was read itself: later writes replace `state.stored` or change the
    // keys they reach, never an unreached key's entry, so no copy is needed.
    tracked ??= state.tracked = { values: new Map(), json: state.stored!, reached: new Set() };
    tracked.values.set(key, value);
    Object.defineProperty(session, key, accessorFor(key));
  }
}

/**
 * The JSON of `key` when the request never reached it (so it is what was read), else undefined and
 * the caller stringifies the value.
 */
export function unreachedJson(session: object, key: string, state: SessionState): string | undefined {
  const tracked = state.tracked;
  if (!tracked || tracked.reached.has(key)) return undefined;
  const json = tracked.json.get(key);
  if (json === undefined) return undefined;
  // Deleted and assigned again, or redefined by app code: no longer the accessor, so not tracked.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- compared by identity, never called
  const getter = Object.getOwnPropertyDescriptor(session, key)?.get;
  return getter && trackingGetters.has(getter) ? json : undefined;
}

/** `rawAsRead`'s answer for a key the session does not have. */
export const ABSENT_KEY = Symbol('nest-redis-session:absent-key');

/**
 * The string Redis holds for `key` (its JSON, or under `encryption` the sealed string, even once
 * opened), as long as the session still holds that value: `ABSENT_KEY` for a key it does not have,
 * undefined when the key may have changed since it was read (reached, assigned, a plain property).
 * `fresh`: `session` is a lazy read's data that nothing has used yet, so every key it has still holds
 * what Redis held. Reads nothing through the accessors: nothing is parsed or opened.
 */
export function rawAsRead(session: object, state: SessionState, key: string, fresh: boolean): string | typeof ABSENT_KEY | undefined {
  if (!Object.prototype.hasOwnProperty.call(session, key)) return ABSENT_KEY;
  const json = fresh ? state.stored?.get(key) : unreachedJson(session, key, state);
  // Opening a value puts its plaintext in `stored`; the sealed string stays in `held`.
  return json === undefined ? undefined : (state.held?.get(key) ?? json);
}

/**
 * After `SessionService.update` wrote `json` for `key`: when the key is behind its tracking accessor,
 * the request's session takes the value from that JSON on its next read (as a lazy read does) and the
 * key counts as not reached, so the end-of-request save neither stringifies it nor writes it again.
 * Answers false (nothing done) otherwise; the caller then assigns the value. `json` must already be
 * in `state.stored`.
 */
export function settleUnreached(session: object, state: SessionState, key: string): boolean {
  const tracked = state.tracked;
  // The tracking accessors read the JSON from the map the session was read with: only while it is still the stored one.
  if (!tracked || tracked.json !== state.stored) return false;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- compared by identity, never called
  const getter = Object.getOwnPropertyDescriptor(session, key)?.get;
  if (!getter || !trackingGetters.has(getter)) return false;
  tracked.values.set(key, UNPARSED);
  tracked.reached.delete(key);
  return true;
}

/**
 * Runs the library's own read of a session (the user id its save checks, through the `users.userId`
 * option) without marking the keys it reads as reached. Every save reads the user id, so without this
 * a logged-in session's `user` would be stringified at the end of every request, though only app code
 * changes it. `read` must not change the session: the `userId` option is documented as a pure function.
 */
export function readUntracked<T>(read: () => T): T {
  marking = false;
  try {
    return read();
  } finally {
    marking = true;
  }
}
