import type { ShopResponse } from './shop-client';

export const TOKEN_HEADER = 'X-Session-Token';

/**
 * A client of the shop that keeps no cookies (a mobile app, a script): it sends `X-Session-Token` on
 * every request, empty until the shop gave it a token, keeps whatever token the shop sends back, and
 * drops it when the shop sends an empty one. It never sends a CSRF token. Calls go to the balancer,
 * so they rotate over replicas.
 */
export class ShopTokenClient {
  token: string | undefined;

  constructor(readonly baseUrl: string) {}

  /* eslint-disable @typescript-eslint/no-explicit-any -- a body typed by the caller, else parsed JSON read field by field (see ShopResponse) */
  get<T = any>(path: string, headers: Record<string, string> = {}): Promise<ShopResponse<T>> {
    return this.send('GET', path, undefined, headers);
  }

  post<T = any>(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ShopResponse<T>> {
    return this.send('POST', path, body, headers);
  }

  delete<T = any>(path: string, headers: Record<string, string> = {}): Promise<ShopResponse<T>> {
    return this.send('DELETE', path, undefined, headers);
  }
  /* eslint-enable @typescript-eslint/no-explicit-any */

  private async send<T>(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<ShopResponse<T>> {
    const all: Record<string, string> = { 'user-agent': 'shop-e2e-token-client', [TOKEN_HEADER]: this.token ?? '' };
    if (body !== undefined) all['content-type'] = 'application/json';
    Object.assign(all, headers); // explicit headers win: tests send forged tokens on purpose
    const res = await fetch(this.baseUrl + path, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body) });
    const token = res.headers.get(TOKEN_HEADER);
    if (token !== null) this.token = token === '' ? undefined : token;
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, replica: res.headers.get('x-replica'), headers: res.headers, setCookies: res.headers.getSetCookie() };
  }
}
