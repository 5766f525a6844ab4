/** One answer of the shop, read once. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON: each test reads the fields its route answers
export interface ShopResponse<T = any> {
  status: number;
  body: T;
  replica: string | null;
  headers: Headers;
  setCookies: string[];
}

const COOKIE = 'sid';

/**
 * A browser-like client of the shop: keeps the `sid` cookie, sends the CSRF token it was given, and
 * remembers which replica answered. Every call goes to the balancer, so calls rotate over replicas.
 */
export class ShopClient {
  /** The session cookie's `name=value`, as the browser would send it; undefined when it has none. */
  cookie: string | undefined;
  csrfToken: string | undefined;

  constructor(
    readonly baseUrl: string,
    private readonly userAgent = 'shop-e2e-client',
  ) {}

  /* eslint-disable @typescript-eslint/no-explicit-any -- a body typed by the caller, else parsed JSON read field by field (see ShopResponse) */
  get<T = any>(path: string): Promise<ShopResponse<T>> {
    return this.request('GET', path);
  }

  post<T = any>(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ShopResponse<T>> {
    return this.request('POST', path, body, headers);
  }

  delete<T = any>(path: string, headers: Record<string, string> = {}): Promise<ShopResponse<T>> {
    return this.request('DELETE', path, undefined, headers);
  }
  /* eslint-enable @typescript-eslint/no-explicit-any */

  /** Fetches (and keeps) the CSRF token; creates the session when there is none. */
  async fetchCsrf(): Promise<string> {
    const res = await this.get<{ csrfToken: string }>('/api/csrf');
    if (res.status !== 200) throw new Error(`GET /api/csrf answered ${res.status}: ${JSON.stringify(res.body)}`);
    this.csrfToken = res.body.csrfToken;
    return this.csrfToken;
  }

  /** Logs in (fetching a CSRF token first if needed) and keeps the rotated token. */
  async login(username: string, password: string): Promise<ShopResponse> {
    if (!this.csrfToken) await this.fetchCsrf();
    const res = await this.post('/api/auth/login', { username, password });
    if (res.status === 200) this.csrfToken = res.body.csrfToken;
    return res;
  }

  /** Sends a raw body (e.g. malformed JSON) with the given content type. */
  raw(method: string, path: string, body: string, contentType = 'application/json'): Promise<ShopResponse> {
    return this.send(method, path, body, { 'content-type': contentType });
  }

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ShopResponse<T>> {
    const extra: Record<string, string> = { ...headers };
    if (body !== undefined) extra['content-type'] = 'application/json';
    return this.send(method, path, body === undefined ? undefined : JSON.stringify(body), extra);
  }

  private async send<T>(method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<ShopResponse<T>> {
    const all: Record<string, string> = { 'user-agent': this.userAgent };
    if (this.cookie) all.cookie = this.cookie;
    if (method !== 'GET' && this.csrfToken) all['x-csrf-token'] = this.csrfToken;
    Object.assign(all, headers); // explicit headers win: tests send wrong tokens on purpose
    for (const [name, value] of Object.entries(all)) if (value === '') delete all[name];
    const res = await fetch(this.baseUrl + path, { method, headers: all, body });
    const setCookies = res.headers.getSetCookie();
    this.keepCookie(setCookies);
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, replica: res.headers.get('x-replica'), headers: res.headers, setCookies };
  }

  private keepCookie(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';').map((part) => part.trim());
      if (!pair.startsWith(`${COOKIE}=`)) continue;
      const expired = attributes.some((a) => /^expires=/i.test(a) && Date.parse(a.slice(8)) <= Date.now());
      this.cookie = expired || pair === `${COOKIE}=` ? undefined : pair;
    }
  }
}
