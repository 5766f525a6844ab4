import { RESERVED_PREFIX } from '../redis/session-fields';
import { SEALED_MARK, UnopenableValueError, sealedPlaintextBytes } from './field-sealer';
import type { SessionState } from './session-state';

/*
 * Under `encryption`, opening a value costs an AES-GCM decipher (about 5 µs here), and a request's
 * read used to open every value of the session: a request paid for the session's width, not for
 * what it used. A request's read now leaves each app value sealed, as the very string Redis holds,
 * in the session's `stored` map, and opens it when something first reaches it (the handler, the
 * user index's entry, `SessionService.update`). A value nothing reached is compared and written
 * back as that string, so it is never opened at all.
 *
 * Two rules keep a sealed string from being taken for plaintext: a save writes a value left sealed
 * only where Redis holds that same string (anywhere else, under a new ID, it opens it first and
 * seals it for the new key), and the size a save checks counts a value left sealed by the length
 * of its plaintext, read from the sealed length, opening it only when that count would refuse the
 * save (it counts UTF-8 bytes, never fewer than the characters the limit counts).
 */

/** Whether a stored JSON is a value a request's read left sealed. No JSON text starts with the mark. */
export function isLeftSealed(json: string): boolean {
  return json[0] === SEALED_MARK;
}

/**
 * Opens the value of app key `key` that a request's read left sealed in `json` (the session's
 * stored map, or the one its tracked values were read with), and puts the plaintext in its place
 * there and in `state.stored` where that holds the same string. Answers the plaintext, or undefined
 * when the value does not open: reported, and left as it is (the key reads as absent, and Redis
 * keeps the value until app code assigns the key).
 */
export function openLeftSealed(state: SessionState, json: Map<string, string>, key: string): string | undefined {
  const sealed = json.get(key);
  if (sealed === undefined || !isLeftSealed(sealed)) return sealed;
  const opening = state.opening;
  if (!opening) {
    // Read without `encryption`: it cannot open here, as a value that is not JSON.
    state.reporter?.ignoreCorruptKey(state.redisKey, key);
    return undefined;
  }
  let plaintext: string;
  try {
    plaintext = opening.sealer.open(opening.redisKey, key, sealed);
  } catch (error) {
    if (!(error instanceof UnopenableValueError)) throw error;
    state.reporter?.ignoreUnopenableKey(opening.redisKey, key, error.message);
    return undefined;
  }
  json.set(key, plaintext);
  if (state.stored !== json && state.stored?.get(key) === sealed) state.stored.set(key, plaintext);
  return plaintext;
}

/** The length `maxSessionBytes` counts for a stored JSON: a value left sealed by its plaintext's byte length. */
export function countedLength(json: string): number {
  return isLeftSealed(json) ? sealedPlaintextBytes(json) : json.length;
}

/**
 * What `maxSessionBytes` counts of the app keys of `fields` (every field but the library's and
 * `except`): name and JSON, each value left sealed opened (a value that does not open counts by
 * its sealed length's bound). Called only once the bound from `countedLength` passed the limit.
 */
export function exactAppLength(fields: Map<string, string>, state: SessionState, except?: string): number {
  let length = 0;
  for (const [field, json] of fields) {
    if (field[0] === RESERVED_PREFIX || field === except) continue;
    const opened = isLeftSealed(json) ? openLeftSealed(state, fields, field) : json;
    length += field.length + (opened ?? json).length;
  }
  return length;
}
