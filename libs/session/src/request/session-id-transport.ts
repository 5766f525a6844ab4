import { readCookie, signCookie, VerifiedCookies } from '../cookie/cookie-signature';
import type { HttpPlatform, SessionRequest } from './http-platform';

/** Where a request's session ID may come from, as the module reads the resolved `idFrom` option: the cookie, the ID header, or both. */
export type IdSourceMode = 'cookie' | 'header' | 'both';

/**
 * How one request carried its session ID, which is also how its response announces a new one:
 * `cookie` (Set-Cookie only), `header` (the ID header only, never a cookie), or `either` (under
 * `idFrom: 'both'`, a request that sent neither: its response announces a new session both ways,
 * since it cannot tell a browser from a client that keeps no cookies).
 */
export type IdCarrier = 'cookie' | 'header' | 'either';

/** What a request brought. */
export interface ArrivedId {
  carrier: IdCarrier;
  /** The verified session ID; undefined when none came, or the value was malformed or forged. */
  id: string | undefined;
  /** The raw value that was read (cookie or header), for the warning about a refused signature. */
  raw: string | undefined;
}

/** The transport's settings, from the resolved options. */
export interface IdTransportOptions {
  idFrom: IdSourceMode;
  /** The ID header's name, as responses spell it. */
  header: string;
  cookieName: string;
  /** Newest first: the first signs, all verify (the cookie's rotation applies to the header too). */
  secrets: string[];
}

/**
 * Where a session ID comes from and goes to: the cookie, the ID header, or both (`idFrom`). Under
 * `'both'` a request that carries the header is decided by the header alone, even when its value is
 * empty or forged: a client that sends it chose it, and a cookie the browser added on its own must not
 * stand in for a header that failed. Both forms hold the same signed value (`s:<id>.<mac>`).
 */
export class SessionIdTransport {
  /** The carrier of a request when nothing says otherwise (a session created outside the way in). */
  readonly defaultCarrier: IdCarrier;
  /** Whether only the cookie carries IDs (`idFrom: 'cookie'`): then a request the cookie does not reach has no session. */
  readonly cookieOnly: boolean;
  private readonly headerKey: string;
  private readonly verified: VerifiedCookies;

  constructor(
    private readonly options: IdTransportOptions,
    private readonly platform: HttpPlatform,
  ) {
    this.headerKey = options.header.toLowerCase();
    this.verified = new VerifiedCookies(options.secrets);
    this.defaultCarrier = options.idFrom === 'both' ? 'either' : options.idFrom;
    this.cookieOnly = options.idFrom === 'cookie';
  }

  /** The response header's name. */
  get headerName(): string {
    return this.options.header;
  }

  /**
   * The way in: the ID this request carries, verified, and how it carried it. Where the cookie does
   * not reach (outside its path), the header alone counts, as under `idFrom: 'header'`.
   */
  read(req: SessionRequest, cookieReaches = true): ArrivedId {
    const { idFrom } = this.options;
    if (idFrom !== 'cookie') {
      const value = this.platform.header(req, this.headerKey);
      if (value !== undefined || idFrom === 'header' || !cookieReaches) return this.verify('header', value);
    }
    const raw = readCookie(this.platform.cookieHeader(req), this.options.cookieName);
    if (raw === undefined && idFrom === 'both') return { carrier: 'either', id: undefined, raw };
    return this.verify('cookie', raw);
  }

  /** Whether the request sent the session cookie, read or not: a credential the browser adds by itself. */
  sentCookie(req: SessionRequest): boolean {
    return readCookie(this.platform.cookieHeader(req), this.options.cookieName) !== undefined;
  }

  /** The value a response's ID header carries for this ID. */
  signed(id: string): string {
    return signCookie(id, this.options.secrets[0]);
  }

  private verify(carrier: IdCarrier, raw: string | undefined): ArrivedId {
    return { carrier, id: raw ? this.verified.idOf(raw) : undefined, raw };
  }
}
