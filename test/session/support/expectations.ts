import type { Cluster, Redis } from 'ioredis';
import type { TestResponse } from './http-client';

/** Redis's own error text, or a stack trace: what a client must never see in an answer. */
const FOREIGN_TEXT = /\bERR\b|WRONGTYPE|user_script|script: [0-9a-f]{40}|ReplyError|\n\s+at /;

/**
 * The answer is a success, or a clear error the library wrote: 4xx/5xx in Nest's JSON shape, with a
 * message that speaks of the session (all the library's messages do) and carries no Redis error text
 * or stack. `mentions` is text the message must contain, such as the key at fault.
 */
export function expectLibraryAnswer(res: TestResponse, mentions?: string): void {
  if (res.status >= 200 && res.status < 300) return;
  expect({ status: res.status, body: res.body }).toEqual({
    status: expect.any(Number),
    body: { statusCode: res.status, message: expect.any(String), error: expect.any(String) },
  });
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(600);
  expect(res.body.message).not.toMatch(FOREIGN_TEXT);
  expect(res.body.message).toMatch(/session/i);
  if (mentions !== undefined) expect(res.body.message).toContain(mentions);
}

/** Keys under `prefix` that would live for ever: no TTL (-1). Empty when every key expires. */
export async function keysWithoutTtl(client: Redis | Cluster, prefix: string): Promise<string[]> {
  const nodes = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  const forever: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
      cursor = next;
      const ttls = await Promise.all(keys.map((key) => node.pttl(key)));
      keys.forEach((key, i) => ttls[i] === -1 && forever.push(key));
    } while (cursor !== '0');
  }
  return forever;
}
