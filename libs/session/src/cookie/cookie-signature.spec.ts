import { createHmac } from 'node:crypto';
import { VerifiedCookies, looksSigned, readCookie, signCookie, unsignCookie } from './cookie-signature';

// The signer express-session itself uses: cookies must stay interchangeable with it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const reference = require('cookie-signature') as { sign(value: string, secret: string): string; unsign(value: string, secret: string): string | false };

const SECRET = 'a-secret-of-at-least-32-characters!!';
const OLD_SECRET = 'the-previous-secret-also-32-chars-long';
const ID = 'Zq3v-8c_PnW1uXy0aBcDeFgHiJkLmNoP';

/** The cookie value express-session sets: "s:" + signed ID, URL-encoded. */
const expressCookie = (id: string, secret: string) => encodeURIComponent(`s:${reference.sign(id, secret)}`);
const mac = (id: string, secret: string) => createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '');

describe('signCookie', () => {
  it('signs exactly as express-session does', () => {
    expect(signCookie(ID, SECRET)).toBe(`s:${reference.sign(ID, SECRET)}`);
    expect(reference.unsign(signCookie(ID, SECRET).slice(2), SECRET)).toBe(ID);
  });
});

describe('unsignCookie', () => {
  it('reads the ID from a cookie express-session signed, URL-encoded or not', () => {
    expect(unsignCookie(expressCookie(ID, SECRET), [SECRET])).toBe(ID);
    expect(unsignCookie(`s:${reference.sign(ID, SECRET)}`, [SECRET])).toBe(ID);
    expect(unsignCookie(signCookie(ID, SECRET), [SECRET])).toBe(ID);
  });

  it('keeps dots inside the ID', () => {
    expect(unsignCookie(expressCookie('a.b.c', SECRET), [SECRET])).toBe('a.b.c');
  });

  it('accepts any of the rotated secrets, and no other', () => {
    expect(unsignCookie(expressCookie(ID, OLD_SECRET), [SECRET, OLD_SECRET])).toBe(ID);
    expect(unsignCookie(expressCookie(ID, OLD_SECRET), [SECRET])).toBeUndefined();
    expect(unsignCookie(expressCookie(ID, SECRET), [])).toBeUndefined();
  });

  it('refuses a tampered ID or signature', () => {
    const signed = signCookie(ID, SECRET);
    expect(unsignCookie(signed.replace(ID, `${ID.slice(0, -1)}X`), [SECRET])).toBeUndefined();
    expect(unsignCookie(signed.slice(0, -1), [SECRET])).toBeUndefined();
    expect(unsignCookie(`${signed}x`, [SECRET])).toBeUndefined();
    expect(unsignCookie(`s:${ID}.${mac(`${ID}x`, SECRET)}`, [SECRET])).toBeUndefined();
    // A signature of the right length made with another secret.
    expect(unsignCookie(`s:${ID}.${mac(ID, 'x'.repeat(40))}`, [SECRET])).toBeUndefined();
  });

  it.each([
    ['an unsigned value', ID],
    ['a signed value without "s:"', reference.sign(ID, SECRET)],
    ['no dot', 's:abcdef'],
    ['an empty ID', `s:.${mac('', SECRET)}`],
    ['no signature', `s:${ID}.`],
    ['bad percent-encoding', 's%3Aabc.%E0%A4%A'],
    ['an empty value', ''],
  ])('refuses %s', (_what, value) => {
    expect(unsignCookie(value, [SECRET])).toBeUndefined();
  });

  it('agrees with express-session on valid cookies, for many IDs', () => {
    for (let i = 0; i < 200; i++) {
      const id = createHmac('sha256', 'ids')
        .update(String(i))
        .digest('base64url')
        .slice(0, 24 + (i % 9));
      const raw = expressCookie(id, SECRET);
      expect(unsignCookie(raw, [SECRET])).toBe(reference.unsign(decodeURIComponent(raw).slice(2), SECRET));
    }
  });
});

describe('looksSigned', () => {
  it('tells a value that claims a signature from one that does not', () => {
    expect(looksSigned(expressCookie(ID, SECRET))).toBe(true);
    expect(looksSigned(signCookie(ID, SECRET))).toBe(true);
    expect(looksSigned(ID)).toBe(false);
    expect(looksSigned('')).toBe(false);
  });
});

describe('VerifiedCookies', () => {
  const size = (cookies: VerifiedCookies) => cookies.size;

  it('answers the ID of a valid cookie, again and again', () => {
    const cookies = new VerifiedCookies([SECRET, OLD_SECRET]);
    const raw = expressCookie(ID, OLD_SECRET);
    expect(cookies.idOf(raw)).toBe(ID);
    expect(cookies.idOf(raw)).toBe(ID);
  });

  it('never remembers a value that failed the check', () => {
    const cookies = new VerifiedCookies([SECRET]);
    const forged = expressCookie(ID, OLD_SECRET);
    expect(cookies.idOf(forged)).toBeUndefined();
    expect(cookies.idOf(forged)).toBeUndefined();
    expect(cookies.idOf('garbage')).toBeUndefined();
    expect(size(cookies)).toBe(0);
  });

  it('does not let a remembered value verify under another instance with other secrets', () => {
    const raw = expressCookie(ID, SECRET);
    expect(new VerifiedCookies([SECRET]).idOf(raw)).toBe(ID);
    expect(new VerifiedCookies([OLD_SECRET]).idOf(raw)).toBeUndefined();
  });

  it('stays within its capacity, dropping the oldest half when full, and still answers for dropped values', () => {
    const cookies = new VerifiedCookies([SECRET], 4);
    const raws = Array.from({ length: 9 }, (_, i) => expressCookie(`id-${i}`, SECRET));
    for (const raw of raws) cookies.idOf(raw);
    expect(size(cookies)).toBeLessThanOrEqual(4);
    raws.forEach((raw, i) => expect(cookies.idOf(raw)).toBe(`id-${i}`));
    expect(size(cookies)).toBeLessThanOrEqual(4);
  });
});

describe('readCookie', () => {
  it('reads one cookie among several', () => {
    expect(readCookie('a=1; sid=s%3Aabc.def; b=2', 'sid')).toBe('s%3Aabc.def');
    expect(readCookie('sid=first', 'sid')).toBe('first');
    expect(readCookie('a=1;sid=tight', 'sid')).toBe('tight');
  });

  it('does not mistake a cookie whose name ends with the wanted name', () => {
    expect(readCookie('xsid=wrong; sid=right', 'sid')).toBe('right');
    expect(readCookie('xsid=wrong', 'sid')).toBeUndefined();
  });

  it('does not match a value that contains "name="', () => {
    expect(readCookie('other=sid=fake', 'sid')).toBeUndefined();
  });

  it('answers undefined without a header or without the cookie, and "" for an empty value', () => {
    expect(readCookie(undefined, 'sid')).toBeUndefined();
    expect(readCookie('', 'sid')).toBeUndefined();
    expect(readCookie('a=1', 'sid')).toBeUndefined();
    expect(readCookie('sid=; a=1', 'sid')).toBe('');
  });
});
