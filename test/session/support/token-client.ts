import type { TestResponse } from './http-client';

/** A response of a token client: the test response plus the ID header, when the answer had one. */
export interface TokenResponse extends TestResponse {
  /** The ID header's value: undefined when absent, '' when the server emptied it. */
  token: string | undefined;
}

/**
 * A client that keeps no cookies (a mobile app, a script): it holds the session ID the server sent
 * in the ID header and sends it back in that header. An empty header from the server drops it.
 * `base` may be a function, so successive requests can go to different replicas.
 */
export class TokenClient {
  token: string | undefined;

  constructor(
    private readonly base: string | (() => string),
    private readonly header = 'X-Session-Token',
  ) {}

  async request(method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<TokenResponse> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined) headers[this.header] = this.token;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    Object.assign(headers, options.headers); // explicit headers win: tests send forged ones on purpose
    const url = (typeof this.base === 'function' ? this.base() : this.base) + path;
    const res = await fetch(url, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const token = res.headers.get(this.header) ?? undefined;
    if (token !== undefined) this.token = token === '' ? undefined : token;
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body, setCookie: res.headers.get('set-cookie'), token };
  }

  get(path: string, headers?: Record<string, string>) {
    return this.request('GET', path, { headers });
  }

  post(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request('POST', path, { body, headers });
  }
}
