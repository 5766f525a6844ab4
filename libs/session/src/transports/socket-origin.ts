import type { IncomingHttpHeaders } from 'node:http';

/**
 * Refuses a handshake from a foreign origin: a browser adds the session cookie to a WebSocket opened
 * by any site, so a page elsewhere could otherwise open the user's socket (cross-site WebSocket
 * hijacking). The app's own origin is the handshake's `Host` (`X-Forwarded-Host` under `trustProxy`);
 * `allowed` adds others. A handshake without `Origin` comes from no browser, and is let through: it
 * carries only the credentials its client chose to send.
 */
export function checkOrigin(headers: IncomingHttpHeaders, allowed: readonly string[], trustProxy: boolean | undefined): void {
  const origin = headers.origin;
  if (origin === undefined) return;
  if (allowed.includes(origin)) return;
  const forwarded = trustProxy ? first(headers['x-forwarded-host']) : undefined;
  const host = forwarded ?? headers.host;
  let originHost: string | undefined;
  try {
    originHost = new URL(origin).host;
  } catch {
    originHost = undefined;
  }
  if (host !== undefined && originHost !== undefined && originHost === host.toLowerCase()) return;
  throw new Error(`Origin ${JSON.stringify(origin)} may not open a socket here (option "sockets.allowedOrigins")`);
}

function first(value: string | string[] | undefined): string | undefined {
  const joined = Array.isArray(value) ? value[0] : value;
  return joined?.split(',')[0]?.trim() || undefined;
}
