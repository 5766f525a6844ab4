import type { Request } from 'express';
import { FIELD } from '../redis/session-fields';
import { deviceMeta } from './device-meta';

/** Only what deviceMeta reads of a request: its headers, `ip` and the socket's address. */
function request(headers: Record<string, string>, ip?: string, socketAddress?: string): Request {
  return { headers, ip, socket: socketAddress === undefined ? undefined : { remoteAddress: socketAddress } } as unknown as Request;
}

describe('deviceMeta', () => {
  it('keeps the time, the User-Agent and the IP the app sees', () => {
    expect(deviceMeta(request({ 'user-agent': 'Phone/1.0' }, '203.0.113.7', '10.0.0.1'), 1_700_000_000_123)).toEqual({
      [FIELD.lastSeenAt]: '1700000000123',
      [FIELD.userAgent]: 'Phone/1.0',
      [FIELD.ip]: '203.0.113.7',
    });
  });

  it('cuts a User-Agent longer than 256 characters to its first 256, so a header cannot grow the session', () => {
    const agent = `${'a'.repeat(256)}${'b'.repeat(100)}`;
    expect(deviceMeta(request({ 'user-agent': agent }, '203.0.113.7'), 0)[FIELD.userAgent]).toBe('a'.repeat(256));
  });

  it('falls back to the socket address without req.ip, and keeps empty strings when the request tells nothing', () => {
    expect(deviceMeta(request({}, undefined, '198.51.100.2'), 0)).toMatchObject({ [FIELD.userAgent]: '', [FIELD.ip]: '198.51.100.2' });
    // A request without a socket (a platform that gives none, or a fake one in an app's test) still gets its metadata.
    expect(deviceMeta(request({}), 0)).toMatchObject({ [FIELD.userAgent]: '', [FIELD.ip]: '' });
  });
});
