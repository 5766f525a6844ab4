import { cookiePathMatches } from './cookie-path';

describe('cookiePathMatches (RFC 6265, 5.1.4)', () => {
  it.each([
    ['/', '/', true],
    ['/', '/anything/below?q=1', true],
    ['/app', '/app', true],
    ['/app', '/app/', true],
    ['/app', '/app/cart/1', true],
    ['/app', '/app?tab=cart', true],
    ['/app', '/application', false],
    ['/app', '/app.json', false],
    ['/app', '/App', false],
    ['/app', '/ap', false],
    ['/app', '/', false],
    ['/app/', '/app/', true],
    ['/app/', '/app/cart', true],
    ['/app/', '/app', false],
    ['/app/', '/app?tab=cart', false],
  ])('a cookie of path %s is sent to %s: %s', (cookiePath, url, sent) => {
    expect(cookiePathMatches(cookiePath, url)).toBe(sent);
  });
});
