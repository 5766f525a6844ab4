import { SessionConfigError } from '../errors/session-config.error';

/*
 * The small checks every option resolver uses. Each names the option path it was given, so a boot
 * error says exactly which setting to fix.
 */

export function optionalDuration(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new SessionConfigError(name, `must be a positive whole number of milliseconds; got ${received(value)}`);
  }
  return value;
}

export function optionalCount(name: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new SessionConfigError(name, `must be a whole number of at least ${min}; got ${received(value)}`);
  }
  return value;
}

export function optionalBoolean(name: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new SessionConfigError(name, `must be true or false; got ${received(value)}`);
}

export function nonEmptyString(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) {
    throw new SessionConfigError(name, 'must be a non-empty string');
  }
  return value;
}

export function oneOf<T>(name: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) {
    throw new SessionConfigError(name, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** An options object (or undefined), whose keys must all be among `known`: a typo is named, not ignored. */
export function optionalObject(name: string, value: unknown, known: readonly string[]): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SessionConfigError(name, `must be an object { ${known.join(', ')} }; got ${received(value)}`);
  }
  const stray = Object.keys(value).find((key) => !known.includes(key));
  if (stray !== undefined) throw new SessionConfigError(`${name}.${stray}`, `is not an option; the options are ${known.join(', ')}`);
  return value as Record<string, unknown>;
}

/**
 * A received option value for a message: primitives as String() writes them; an object or a function
 * by its kind, where String() would print "[object Object]" or a function's whole source.
 */
export function received(value: unknown): string {
  switch (typeof value) {
    case 'object':
      return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
    case 'function':
      return 'a function';
    case 'string':
      return value;
    case 'symbol':
      return value.toString();
    default:
      return String(value);
  }
}
