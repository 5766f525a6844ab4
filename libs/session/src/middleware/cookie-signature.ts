import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Whether a signed cookie value (`s:<id>.<signature>`, as express-session writes it) carries a valid
 * signature under any of the secrets. Only used to explain, in the log, why a cookie was refused.
 */
export function hasValidSignature(raw: string, secrets: string[]): boolean {
  let value = raw;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return false;
  }
  if (!value.startsWith('s:')) return false;
  const dot = value.lastIndexOf('.');
  if (dot < 2) return false;
  const id = value.slice(2, dot);
  const given = Buffer.from(value.slice(dot + 1));
  return secrets.some((secret) => {
    const expected = Buffer.from(createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, ''));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
}

/** The raw value of one cookie in a Cookie header, without parsing the others. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const needle = `${name}=`;
  let at = header.indexOf(needle);
  while (at !== -1) {
    if (at === 0 || header[at - 1] === ' ' || header[at - 1] === ';') {
      const end = header.indexOf(';', at);
      return header.slice(at + needle.length, end === -1 ? undefined : end).trim();
    }
    at = header.indexOf(needle, at + 1);
  }
  return undefined;
}
