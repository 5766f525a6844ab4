/*
 * Long values are stored in pieces, so a session's hash keeps Redis's compact encoding.
 *
 * Redis keeps a small hash as a listpack only while every field name and value is at most
 * `hash-max-listpack-value` bytes (64 by default). One longer value (a cart, a user) turns the whole
 * hash into a hashtable, where each field costs about 64 bytes of overhead whatever its size: a
 * 13-digit timestamp then takes 64 bytes for 15 of data. So a value longer than PIECE_BYTES is stored
 * as pieces of at most PIECE_BYTES:
 *
 *   <field>       the head: PIECE_MARK, the piece count, ':', the first piece
 *   :<i>:<field>  piece i (1 to count - 1)
 *
 * A value starting with PIECE_MARK is stored as a head of one piece whatever its length, so no value
 * is ever mistaken for a head. Piece names start with ":" and a digit: the ":" no session key may
 * start with, and a digit no library field has. Pieces are cut between UTF-8 characters, so each is
 * valid text (ioredis decodes every field of a reply on its own).
 *
 * The app cuts a value as it sends it (`storedPairs`, which the write scripts' arguments go through),
 * so Redis, which every replica shares, does no string work: a key's write is still one HSET, its
 * compare-and-set compares the pieces it reads in its one HMGET, and only a value stored in fewer
 * pieces than before makes the script delete the rest. Every read joins the pieces (`joinPieces`). A
 * head whose pieces are not all there reads as the head itself, which no JSON parse and no open
 * accepts: that key reads as corrupt, as any corrupt value does. A value stored whole (an older write,
 * a short value) reads as it is, so both forms can sit in one hash.
 */

/** The longest field name or value a default Redis keeps in a listpack (`hash-max-listpack-value`). */
export const PIECE_BYTES = 64;

/** First character of a head (the unit separator): never the first of JSON, of a sealed value or of a header. */
export const PIECE_MARK = '\x1f';

const PIECE_MARK_CODE = 0x1f;
const COLON = 0x3a;

/** A head's piece count and where its first piece starts; undefined for a value stored whole. */
function headerOf(head: string): { count: number; start: number } | undefined {
  if (head.charCodeAt(0) !== PIECE_MARK_CODE) return undefined;
  let count = 0;
  let at = 1;
  for (let code = head.charCodeAt(at); code >= 0x30 && code <= 0x39; code = head.charCodeAt(++at)) count = count * 10 + code - 0x30;
  return at > 1 && head.charCodeAt(at) === COLON ? { count, start: at + 1 } : undefined;
}

/**
 * The field/value pairs that store `value` under `field`: itself when it fits in `pieceBytes`, else
 * its head and its pieces of at most `pieceBytes`, cut between UTF-8 characters; 0 keeps every value
 * whole (but one that starts with the mark, which must be a head). The write scripts send these
 * (`scripts.ts`), so Redis only compares and stores strings. Every write of a long value runs this:
 * ASCII (most JSON) takes a path with no copy of the bytes.
 */
export function storedPairs(field: string, value: string, pieceBytes = PIECE_BYTES): string[] {
  if (value.charCodeAt(0) === PIECE_MARK_CODE) return [field, `${PIECE_MARK}1:${value}`];
  if (pieceBytes === 0) return [field, value];
  const size = Buffer.byteLength(value);
  if (size <= pieceBytes) return [field, value];
  // As many bytes as UTF-16 units: every character is ASCII, one byte each.
  if (size === value.length) return asciiPieces(field, value, pieceBytes);
  const bytes = Buffer.from(value);
  return utf8Pieces(
    field,
    size,
    pieceBytes,
    (from, to) => bytes.toString('utf8', from, to),
    (at) => (bytes[at] & 0xc0) === 0x80,
  );
}

/** The head's room for its first piece: the piece size less the mark, the count's digits and ':'. */
function headRoom(count: number, pieceBytes: number): number {
  return pieceBytes - 2 - (count < 10 ? 1 : count < 100 ? 2 : String(count).length);
}

/** An ASCII value's head and pieces: every cut falls between characters. */
function asciiPieces(field: string, value: string, pieceBytes: number): string[] {
  // The count sets the head's room and the room the count: start from one digit, grow until they agree.
  let count = 2;
  while (1 + Math.ceil((value.length - headRoom(count, pieceBytes)) / pieceBytes) > count) count++;
  const room = headRoom(count, pieceBytes);
  const pairs = [field, `${PIECE_MARK}${count}:${value.slice(0, room)}`];
  for (let i = 1, at = room; i < count; i++, at += pieceBytes) pairs.push(pieceField(field, i), value.slice(at, at + pieceBytes));
  return pairs;
}

/**
 * The head and pieces of a value of `size` bytes: `text(from, to)` answers its bytes [from, to) as a
 * string, `continues(at)` whether byte `at` is inside a character, where no cut may fall.
 */
function utf8Pieces(field: string, size: number, pieceBytes: number, text: (from: number, to: number) => string, continues: (at: number) => boolean): string[] {
  const endOf = (from: number, room: number) => {
    let end = Math.min(from + room, size);
    while (end < size && end > from + 1 && continues(end)) end--;
    return end;
  };
  for (let digits = 1; ; digits++) {
    const ends = [endOf(0, pieceBytes - 2 - digits)];
    while (ends[ends.length - 1] < size) ends.push(endOf(ends[ends.length - 1], pieceBytes));
    if (String(ends.length).length > digits) continue;
    const pairs = [field, `${PIECE_MARK}${ends.length}:${text(0, ends[0])}`];
    for (let i = 1; i < ends.length; i++) pairs.push(pieceField(field, i), text(ends[i - 1], ends[i]));
    return pairs;
  }
}

/** The hash field of a value's piece `index` (1 to count - 1; the head is the field itself). */
export function pieceField(field: string, index: number): string {
  return `:${index}:${field}`;
}

/** Whether a hash field is a piece of another field's value (":" then a digit), not a value of its own. */
export function isPieceField(field: string): boolean {
  const second = field.charCodeAt(1);
  return field.charCodeAt(0) === COLON && second >= 0x30 && second <= 0x39;
}

/**
 * The value a field's head stands for: the head itself when it is a whole value, else its first
 * piece joined with the others, which `pieceAt` answers by index (null or undefined when missing;
 * the head is then answered as it is, and reads as corrupt).
 */
export function joinedValue(head: string, pieceAt: (index: number) => string | null | undefined): string {
  const header = headerOf(head);
  if (header === undefined) return head;
  let value = head.slice(header.start);
  for (let index = 1; index < header.count; index++) {
    const piece = pieceAt(index);
    if (piece === null || piece === undefined) return head;
    value += piece;
  }
  return value;
}

/** How many pieces a head says its value has: 1 for a value stored whole. */
export function pieceCount(head: string): number {
  return headerOf(head)?.count ?? 1;
}

/**
 * A session's hash as the library reads it: every value whole, no piece fields. Answers `fields`
 * itself when nothing in it is in pieces (most reads of sessions without long values).
 */
export function joinPieces<Fields extends Record<string, string>>(fields: Fields): Fields {
  let inPieces = false;
  for (const field in fields) {
    if (fields[field].charCodeAt(0) === PIECE_MARK_CODE || isPieceField(field)) {
      inPieces = true;
      break;
    }
  }
  if (!inPieces) return fields;
  const joined: Record<string, string> = {};
  for (const field in fields) {
    if (isPieceField(field)) continue;
    const value = joinedValue(fields[field], (index) => fields[pieceField(field, index)]);
    // A field named `__proto__` (a session key may be) stays a field.
    if (field === '__proto__') Object.defineProperty(joined, field, { value, enumerable: true, writable: true, configurable: true });
    else joined[field] = value;
  }
  return joined as Fields;
}
