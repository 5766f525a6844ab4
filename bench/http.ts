import { Agent, request } from 'node:http';
import { SEED_LINES, type CartLine } from './apps/cart';

const agent = new Agent({ keepAlive: true, maxSockets: 32 });

export interface Reply {
  status: number;
  body: string;
  setCookie: string[];
}

/** One HTTP request to a bench app on 127.0.0.1 (keep-alive), with an optional cookie and JSON body. */
export function send(port: number, method: string, path: string, cookie?: string, json?: unknown): Promise<Reply> {
  const body = json === undefined ? undefined : JSON.stringify(json);
  const headers: Record<string, string> = {};
  if (cookie) headers.cookie = cookie;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), setCookie: res.headers['set-cookie'] ?? [] }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.end(body);
  });
}

function expectOk(reply: Reply, what: string): Reply {
  if (reply.status < 200 || reply.status > 299) throw new Error(`${what} answered ${reply.status}: ${reply.body.slice(0, 300)}`);
  return reply;
}

/** Logs a user in with a new session and fills its cart with the three seed lines; returns the cookie. */
export async function loginWithCart(port: number, userId: string): Promise<string> {
  const login = expectOk(await send(port, 'POST', '/login', undefined, { userId }), 'POST /login');
  const cookie = login.setCookie.map((c) => c.split(';')[0]).find((c) => c.startsWith('sid='));
  if (!cookie) throw new Error('POST /login set no "sid" cookie');
  for (const line of SEED_LINES) expectOk(await send(port, 'POST', '/cart/items', cookie, line), 'POST /cart/items');
  return cookie;
}

/** The cart a cookie sees now. */
export async function cartOf(port: number, cookie?: string): Promise<CartLine[]> {
  return JSON.parse(expectOk(await send(port, 'GET', '/cart', cookie), 'GET /cart').body) as CartLine[];
}

/** Runs `task` over `items` with at most `concurrency` at a time, keeping the order of results. */
export async function mapLimit<T, R>(items: T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** A cookie of the size a session layer sets, for the no-session app (which ignores it). */
export function fakeCookie(i: number): string {
  const id = `fake${String(i).padStart(28, '0')}`;
  return `sid=s%3A${id}.${'x'.repeat(43)}`;
}
