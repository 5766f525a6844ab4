import type { IncomingMessage } from 'node:http';

/** The `cookie.secure` setting, as express-session takes it. */
export type SecureSetting = boolean | 'auto' | undefined;

/**
 * Whether a request came over HTTPS, as express-session decides it for `secure: 'auto'`:
 * `trustProxy` true trusts X-Forwarded-Proto, false ignores it, unset defers to the framework's own
 * verdict (Express's `req.secure`, which follows its `trust proxy` setting).
 */
export function isHttpsRequest(req: IncomingMessage, trustProxy: boolean | undefined, frameworkSaysSecure: boolean): boolean {
  if ((req.socket as { encrypted?: boolean } | undefined)?.encrypted) return true;
  if (trustProxy === false) return false;
  if (trustProxy !== true) return frameworkSaysSecure;
  const header = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(header) ? header[0] : header)?.split(',')[0].trim().toLowerCase();
  return first === 'https';
}

/**
 * The `Secure` flag of every cookie the library writes (the session cookie, logout's clearing cookie,
 * the store's cookie templates, one per protocol), so they can never disagree.
 */
export function resolveSecure(setting: SecureSetting, https: boolean): boolean | undefined {
  return setting === 'auto' ? https : setting;
}
