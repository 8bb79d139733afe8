import { interceptMessages } from '../intercept-messages.js';
import type { Transport } from '../sdk.js';

/**
 * The SDK dispatches an inbound notification on a later microtask but handles a response at once, and drops a
 * request's progress handler as soon as its response is handled. When an upstream writes its last progress
 * notification and its result in one read (a stdio pipe does), the progress is lost. Deferring responses by one
 * microtask lets every notification that arrived before a response be handled before it, as it was sent.
 */
export function deliverInOrder<T extends Transport>(transport: T): T {
  return interceptMessages(transport, (deliver) => (message, extra) => {
    if ('id' in message && !('method' in message)) queueMicrotask(() => deliver(message, extra));
    else deliver(message, extra);
  });
}
