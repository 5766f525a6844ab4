import type { Request } from 'express';

/**
 * Whether the request came over HTTPS, as express-session decides it for `secure: 'auto'`:
 * `trustProxy` true trusts X-Forwarded-Proto, false ignores it, unset defers to Express's
 * `trust proxy` setting through `req.secure`.
 */
export function isSecureRequest(req: Request, trustProxy: boolean | undefined): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  if (trustProxy === false) return false;
  if (trustProxy !== true) return req.secure === true;
  const header = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(header) ? header[0] : header)?.split(',')[0].trim().toLowerCase();
  return first === 'https';
}
