import type { SessionCore } from '../store/session-core';

/**
 * Marks a `SessionService` method whose writes security depends on: with the `durability` option on,
 * they go over the connection kept for them and the method resolves once replicas acknowledged them
 * (or the wait timed out, logged). Without the option, the method runs as it is.
 */
export function DurableWrite(): MethodDecorator {
  return (_target, _name, descriptor: PropertyDescriptor) => {
    const method = descriptor.value as (...args: unknown[]) => Promise<unknown>;
    descriptor.value = function durableWrite(this: { core: SessionCore }, ...args: unknown[]) {
      return this.core.gateway.durably(() => method.apply(this, args));
    };
  };
}
