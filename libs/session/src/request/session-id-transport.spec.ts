import { signCookie } from '../cookie/cookie-signature';
import type { HttpPlatform, SessionRequest } from './http-platform';
import { SessionIdTransport, type IdSourceMode } from './session-id-transport';

const SECRET = 'a-secret-of-at-least-32-characters!!';
const COOKIE_ID = 'id-from-the-cookie-0000000000000000';
const HEADER_ID = 'id-from-the-header-0000000000000000';

/** A request as the platform sees it: its Cookie header and its other headers (lower-case names). */
type FakeRequest = { cookie?: string; headers: Record<string, string> };

const platform = {
  cookieHeader: (req: SessionRequest) => (req as unknown as FakeRequest).cookie,
  header: (req: SessionRequest, name: string) => (req as unknown as FakeRequest).headers[name],
} as unknown as HttpPlatform;

function transport(idFrom: IdSourceMode, header = 'X-Session-Token'): SessionIdTransport {
  return new SessionIdTransport({ idFrom, header, cookieName: 'sid', secrets: [SECRET] }, platform);
}

function request(parts: { cookieId?: string; header?: string }): SessionRequest {
  const fake: FakeRequest = { headers: {} };
  if (parts.cookieId) fake.cookie = `other=1; sid=${encodeURIComponent(signCookie(parts.cookieId, SECRET))}`;
  if (parts.header !== undefined) fake.headers['x-session-token'] = parts.header;
  return fake as unknown as SessionRequest;
}

const signedHeader = signCookie(HEADER_ID, SECRET);

describe('SessionIdTransport.read: where the ID comes from', () => {
  it.each([
    // idFrom, what the request sent, the carrier, the ID
    ['cookie', { cookieId: COOKIE_ID, header: signedHeader }, 'cookie', COOKIE_ID],
    ['cookie', { header: signedHeader }, 'cookie', undefined],
    ['header', { cookieId: COOKIE_ID, header: signedHeader }, 'header', HEADER_ID],
    ['header', { cookieId: COOKIE_ID }, 'header', undefined],
    ['both', { cookieId: COOKIE_ID, header: signedHeader }, 'header', HEADER_ID],
    ['both', { cookieId: COOKIE_ID, header: 'forged' }, 'header', undefined],
    ['both', { cookieId: COOKIE_ID, header: '' }, 'header', undefined],
    ['both', { cookieId: COOKIE_ID }, 'cookie', COOKIE_ID],
    ['both', {}, 'either', undefined],
  ] as const)('idFrom %p, request %j: carrier %p, ID %p', (idFrom, parts, carrier, id) => {
    expect(transport(idFrom).read(request(parts))).toMatchObject({ carrier, id });
  });

  it('reads the configured header name, in any case', () => {
    const req = { headers: { 'x-api-session': signedHeader } } as unknown as SessionRequest;
    expect(transport('header', 'X-Api-Session').read(req).id).toBe(HEADER_ID);
    expect(transport('header', 'X-Api-Session').headerName).toBe('X-Api-Session');
  });

  it('signs a response value the way the cookie is signed, which reads back as the same ID', () => {
    const value = transport('both').signed(HEADER_ID);
    expect(value).toBe(signedHeader);
    expect(transport('header').read(request({ header: value })).id).toBe(HEADER_ID);
  });

  it('tells whether the session cookie was sent, whatever the carrier', () => {
    expect(transport('header').sentCookie(request({ cookieId: COOKIE_ID, header: signedHeader }))).toBe(true);
    expect(transport('header').sentCookie(request({ header: signedHeader }))).toBe(false);
  });

  it.each([
    ['cookie', 'cookie'],
    ['header', 'header'],
    ['both', 'either'],
  ] as const)('gives a session created outside the way in, under idFrom %p, the carrier %p', (idFrom, carrier) => {
    expect(transport(idFrom).defaultCarrier).toBe(carrier);
  });
});
