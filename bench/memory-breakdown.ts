import type { Redis } from 'ioredis';
import { PIECE_BYTES, storedPairs } from '@app/session/redis/field-pieces';
import type { FieldBreakdown, KeyBreakdown, LayoutProbe } from './results';

/** Scratch key the probes copy to and measure; deleted after each. */
const SCRATCH = 'bench:memory-probe';

const usage = async (admin: Redis, key: string) => Number(await admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
const encodingOf = async (admin: Redis, key: string) => String(await admin.call('OBJECT', 'ENCODING', key));

/**
 * One key broken down: MEMORY USAGE, encoding, and for a hash (or sorted set) each field's name and
 * value bytes and its marginal cost, measured on a copy (DUMP/RESTORE) without that field. A hash
 * made a hashtable stays one when a field goes, so the marginal cost is the field's in that encoding.
 */
export async function breakDownKey(admin: Redis, key: string, role: string): Promise<KeyBreakdown> {
  const type = await admin.type(key);
  const bytes = await usage(admin, key);
  const out: KeyBreakdown = { role, key, type, encoding: await encodingOf(admin, key), bytes, hasTtl: (await admin.pttl(key)) > 0 };
  if (type !== 'hash' && type !== 'zset') return out;
  const dump = await admin.dumpBuffer(key);
  const fields: FieldBreakdown[] = [];
  const entries: Array<[string, string]> =
    type === 'hash' ? Object.entries(await admin.hgetall(key)) : pairs((await admin.call('ZRANGE', key, '0', '-1', 'WITHSCORES')) as string[]);
  for (const [field, value] of entries) {
    await admin.restore(SCRATCH, 0, dump, 'REPLACE');
    if (type === 'hash') await admin.hdel(SCRATCH, field);
    else await admin.zrem(SCRATCH, field);
    const without = (await admin.exists(SCRATCH)) ? await usage(admin, SCRATCH) : 0;
    fields.push({ field, nameBytes: Buffer.byteLength(field), valueBytes: Buffer.byteLength(value), marginalBytes: bytes - without });
  }
  await admin.del(SCRATCH);
  out.fields = fields;
  return out;
}

/** ZRANGE WITHSCORES as pairs: flat under RESP2, already paired under RESP3. */
function pairs(flat: Array<string | [string, string | number]>): Array<[string, string]> {
  if (flat.length && Array.isArray(flat[0])) return (flat as Array<[string, string | number]>).map(([member, score]) => [member, String(score)]);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([String(flat[i]), String(flat[i + 1])]);
  return out;
}

/**
 * The same session data (`fields`: each value whole) in other layouts, each written to a scratch key
 * with a TTL as the library writes its own, measured by MEMORY USAGE: the hash with each value whole
 * in one field (the layout before 2026-12-07: one long value makes it a hashtable); today's, values
 * longer than 64 bytes in pieces, so it stays a listpack at Redis's defaults; and one JSON string of
 * every field (connect-redis's shape).
 */
export async function probeLayouts(admin: Redis, fields: Record<string, string>): Promise<LayoutProbe[]> {
  const probes: LayoutProbe[] = [];
  const measure = async (layout: string, note: string, write: () => Promise<unknown>) => {
    await admin.del(SCRATCH);
    await write();
    await admin.pexpire(SCRATCH, 60_000);
    probes.push({ layout, note, bytes: await usage(admin, SCRATCH), encoding: `${await admin.type(SCRATCH)}/${await encodingOf(admin, SCRATCH)}` });
  };
  await measure('hash, each value whole in one field (before 2026-12-07)', 'one-field writes, compare-and-set per key', () => admin.hset(SCRATCH, fields));
  await measure(
    `hash, values in pieces of ≤ ${PIECE_BYTES} B (today: stays a listpack)`,
    "one-field writes (a key's pieces written, stale ones deleted, in one script), compare-and-set per key on its pieces",
    () => admin.hset(SCRATCH, ...Object.entries(fields).flatMap(([field, value]) => storedPairs(field, value))),
  );
  await measure('one JSON string of every field', 'whole-session writes only, compare-and-set on the whole session', () =>
    admin.set(SCRATCH, JSON.stringify(fields)),
  );
  await admin.del(SCRATCH);
  return probes;
}

/** Keys not of one session, shared by all (activity buckets…), found by SCAN: their bytes over `sessions`. */
export async function sharedKeys(admin: Redis, isPerSession: (key: string) => boolean, sessions: number): Promise<KeyBreakdown[]> {
  const out: KeyBreakdown[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      if (isPerSession(key)) continue;
      const shared = await breakDownKey(admin, key, 'shared by every session');
      delete shared.fields;
      shared.sharedPerSession = shared.bytes / sessions;
      out.push(shared);
    }
  } while (cursor !== '0');
  return out;
}

/** The breakdowns as Markdown: one row per key, then one per field. */
export function breakdownTable(label: string, keys: KeyBreakdown[]): string {
  const rows = [`| ${label}: key or field | encoding | MEMORY USAGE / marginal bytes | name + value bytes |`, '|---|---|---:|---:|'];
  for (const k of keys) {
    const shared = k.sharedPerSession === undefined ? '' : ` (${k.sharedPerSession.toFixed(1)} B per session)`;
    rows.push(
      `| **${k.role}** \`${k.key.replace(/[A-Za-z0-9_-]{20,}/g, '<digest>')}\`${k.hasTtl ? ', TTL' : ''} | ${k.type}/${k.encoding} | ${k.bytes}${shared} | |`,
    );
    for (const f of k.fields ?? [])
      rows.push(`| ↳ \`${f.field.length > 24 ? '<digest>' : f.field}\` | | ${f.marginalBytes} | ${f.nameBytes} + ${f.valueBytes} |`);
  }
  return rows.join('\n');
}

/** The layout probes as Markdown. */
export function layoutsTable(probes: LayoutProbe[], connectRedisBytes?: number): string {
  return [
    '| the same session as | encoding | MEMORY USAGE, B | ÷ connect-redis key | keeps |',
    '|---|---|---:|---:|---|',
    ...probes.map((p) => `| ${p.layout} | ${p.encoding} | ${p.bytes} | ${connectRedisBytes ? (p.bytes / connectRedisBytes).toFixed(2) : '–'} | ${p.note} |`),
  ].join('\n');
}
