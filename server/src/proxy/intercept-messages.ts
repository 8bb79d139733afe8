import type { Transport } from './sdk.js';

type OnMessage = NonNullable<Transport['onmessage']>;

/**
 * The transport with every `onmessage` handler its user sets passed through `wrap` first, whenever it is set. A
 * Proxy: the transport must have no #private members, which cannot be reached through one.
 */
export function interceptMessages<T extends Transport>(transport: T, wrap: (onmessage: OnMessage) => OnMessage): T {
  return new Proxy(transport, {
    set(target, property, value: Transport['onmessage']) {
      if (property !== 'onmessage' || value === undefined) return Reflect.set(target, property, value);
      target.onmessage = wrap(value);
      return true;
    },
  });
}
