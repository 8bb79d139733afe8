import { interceptMessages } from '../intercept-messages.js';
import { type ClientCapabilities, StdioServerTransport } from '../sdk.js';

/**
 * The stdio wire of `airlock run`, which remembers what its client declared in `initialize`. serveStdio gives its
 * server factory only the era, yet that factory opens the upstream links, and an upstream must be told only what
 * the client can answer (relayableClientCapabilities), as over HTTP. serveStdio calls the factory while it handles
 * the opening message, which has passed through here by then.
 */
export function stdioWire(): { transport: StdioServerTransport; declaredCapabilities(): ClientCapabilities } {
  let declared: ClientCapabilities | undefined;
  const transport = interceptMessages(new StdioServerTransport(), (deliver) => (message, extra) => {
    if (declared === undefined && 'method' in message && message.method === 'initialize') {
      declared = (message.params?.capabilities as ClientCapabilities | undefined) ?? {};
    }
    deliver(message, extra);
  });
  return { transport, declaredCapabilities: () => declared ?? {} };
}
