const SLASH = 0x2f;
const QUESTION_MARK = 0x3f;

/**
 * Whether a browser sends a cookie set with `cookiePath` along with a request to `url` (RFC 6265,
 * 5.1.4 "path-match"): the same path, or one below it at a `/`. So `/app` reaches `/app`, `/app/` and
 * `/app/cart?x=1`, and not `/application`, where a session created would get a cookie that never
 * comes back. `url` is the request's target as sent, query string included.
 */
export function cookiePathMatches(cookiePath: string, url: string): boolean {
  if (!url.startsWith(cookiePath)) return false;
  if (url.length === cookiePath.length || cookiePath.charCodeAt(cookiePath.length - 1) === SLASH) return true;
  const next = url.charCodeAt(cookiePath.length);
  return next === SLASH || next === QUESTION_MARK;
}
