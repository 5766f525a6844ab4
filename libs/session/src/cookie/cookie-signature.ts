import { createHmac, timingSafeEqual } from 'node:crypto';

const SIGNED_PREFIX = 's:';

/** Signs a session ID as express-session does (`s:<id>.<HMAC-SHA256, base64 without padding>`), so cookies stay interchangeable. */
export function signCookie(id: string, secret: string): string {
  return `${SIGNED_PREFIX}${id}.${mac(id, secret)}`;
}

/**
 * The session ID inside a signed cookie value, or undefined when the value is malformed or its
 * signature matches none of the secrets (compared in constant time).
 */
export function unsignCookie(raw: string, secrets: string[]): string | undefined {
  let value = raw;
  if (value.includes('%')) {
    try {
      value = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
  }
  if (!value.startsWith(SIGNED_PREFIX)) return undefined;
  const dot = value.lastIndexOf('.');
  if (dot <= SIGNED_PREFIX.length) return undefined;
  const id = value.slice(SIGNED_PREFIX.length, dot);
  const given = Buffer.from(value.slice(dot + 1));
  for (const secret of secrets) {
    const expected = Buffer.from(mac(id, secret));
    if (expected.length === given.length && timingSafeEqual(expected, given)) return id;
  }
  return undefined;
}

/** Whether a cookie value at least claims to be signed: only those deserve a warning when refused. */
export function looksSigned(raw: string): boolean {
  return raw.startsWith(SIGNED_PREFIX) || raw.startsWith('s%3A');
}

/**
 * Verified cookie values and their IDs. A browser sends the same cookie on every request; checking
 * its HMAC once per process instead of once per request is a measurable share of a read's cost.
 * Only values that passed the check enter; the oldest half goes when it is full.
 */
export class VerifiedCookies {
  private readonly ids = new Map<string, string>();

  constructor(
    private readonly secrets: string[],
    private readonly capacity = 10_000,
  ) {}

  /** How many verified values are remembered. */
  get size(): number {
    return this.ids.size;
  }

  idOf(raw: string): string | undefined {
    const cached = this.ids.get(raw);
    if (cached !== undefined) return cached;
    const id = unsignCookie(raw, this.secrets);
    if (id === undefined) return undefined;
    if (this.ids.size >= this.capacity) this.evictOldestHalf();
    this.ids.set(raw, id);
    return id;
  }

  private evictOldestHalf(): void {
    let toDrop = this.ids.size / 2;
    for (const key of this.ids.keys()) {
      if (toDrop-- <= 0) break;
      this.ids.delete(key);
    }
  }
}

/** The raw value of one cookie in a Cookie header, without parsing the others. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const needle = `${name}=`;
  let at = header.indexOf(needle);
  while (at !== -1) {
    if (at === 0 || header[at - 1] === ' ' || header[at - 1] === ';') {
      const end = header.indexOf(';', at);
      return header.slice(at + needle.length, end === -1 ? undefined : end).trim();
    }
    at = header.indexOf(needle, at + 1);
  }
  return undefined;
}

function mac(id: string, secret: string): string {
  return createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '');
}
