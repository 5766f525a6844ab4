import { createHash } from 'node:crypto';
import { digestOf, handleOf, newSessionId } from './session-id';

describe('digestOf', () => {
  it('is the first 32 base64url characters of the SHA-256 of the ID', () => {
    const id = 'k3PgS0qR2lT8w0yZ-abcdEFGHijklMNOP';
    expect(digestOf(id)).toBe(createHash('sha256').update(id).digest('base64url').slice(0, 32));
    expect(digestOf(id)).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('is stable for one ID, differs between IDs, and does not contain the ID', () => {
    const id = newSessionId();
    expect(digestOf(id)).toBe(digestOf(id));
    expect(digestOf(id)).not.toBe(digestOf(`${id}x`));
    expect(digestOf(id)).not.toContain(id.slice(0, 8));
  });
});

describe('handleOf', () => {
  it('is an opaque 22-character handle, neither the digest nor part of it', () => {
    const digest = digestOf(newSessionId());
    const handle = handleOf(digest);
    expect(handle).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(digest).not.toContain(handle);
    expect(handleOf(digest)).toBe(handle);
    expect(handleOf(digestOf(newSessionId()))).not.toBe(handle);
  });
});

describe('newSessionId', () => {
  it('has 192 random bits as 32 base64url characters, never repeating', () => {
    const ids = Array.from({ length: 1_000 }, newSessionId);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(Buffer.from(ids[0], 'base64url')).toHaveLength(24);
  });
});
