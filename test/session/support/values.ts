/**
 * Values that app code may put in a session but JSON cannot carry to a test app (NaN, BigInt,
 * functions, cycles, invalid dates, keys such as `__proto__`), described in JSON and built in the app.
 */
export type ValueSpec =
  | { $: 'json'; v: unknown }
  | { $: 'nan' }
  | { $: 'infinity'; negative?: boolean }
  | { $: 'bigint'; v: string }
  | { $: 'function' }
  | { $: 'symbol' }
  | { $: 'undefined' }
  | { $: 'null-prototype' }
  | { $: 'cycle' }
  | { $: 'date'; v: number | 'invalid' }
  | { $: 'deep'; depth: number }
  | { $: 'long-string'; length: number; of: string }
  | { $: 'object'; entries: [string, ValueSpec][] }
  | { $: 'array'; items: ValueSpec[] };

/** Builds the value a spec describes. Object keys become own properties even when named `__proto__`. */
export function buildValue(spec: ValueSpec): unknown {
  switch (spec.$) {
    case 'json':
      return spec.v;
    case 'nan':
      return NaN;
    case 'infinity':
      return spec.negative ? -Infinity : Infinity;
    case 'bigint':
      return BigInt(spec.v);
    case 'function':
      return () => 'a function';
    case 'symbol':
      return Symbol('in-session');
    case 'undefined':
      return undefined;
    case 'null-prototype':
      return Object.assign(Object.create(null), { a: 1 });
    case 'cycle': {
      const cycle: Record<string, unknown> = { name: 'cycle' };
      cycle.self = cycle;
      return cycle;
    }
    case 'date':
      return new Date(spec.v === 'invalid' ? NaN : spec.v);
    case 'deep': {
      let value: unknown = 'bottom';
      for (let i = 0; i < spec.depth; i++) value = { d: value };
      return value;
    }
    case 'long-string':
      return spec.of.repeat(Math.ceil(spec.length / Math.max(spec.of.length, 1))).slice(0, spec.length);
    case 'object': {
      const object: Record<string, unknown> = {};
      for (const [key, value] of spec.entries) {
        Object.defineProperty(object, key, { value: buildValue(value), enumerable: true, writable: true, configurable: true });
      }
      return object;
    }
    case 'array':
      return spec.items.map(buildValue);
  }
}
