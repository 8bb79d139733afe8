/** What both buses do with a message on either side: encode it for publishing, hand it to a channel's handlers. */
import type { Logger } from '../log/logger.js';
import type { BusHandler } from './event-bus.js';

export type BusLogger = Pick<Logger, 'warn' | 'error'>;

/** A copy for each handler, failures contained (event-bus.ts rules 1, 3). */
export function deliver(
  handlers: Iterable<BusHandler>,
  channel: string,
  json: string,
  logger: BusLogger | undefined,
): void {
  for (const handler of handlers) {
    const report = (err: unknown) => logger?.error({ err, channel }, 'event bus: a subscriber failed on a message');
    try {
      // Parsed per handler, so one handler's changes never reach another.
      Promise.resolve(handler(JSON.parse(json))).catch(report);
    } catch (err) {
      report(err);
    }
  }
}

/** The message as JSON, or undefined when JSON cannot carry it (undefined, a function, a BigInt, a cycle), reported. */
export function encode(channel: string, message: unknown, logger: BusLogger | undefined): string | undefined {
  let json: string | undefined;
  try {
    json = JSON.stringify(message);
  } catch {
    // JSON.stringify throws on BigInt and cycles, and answers undefined for undefined and functions.
  }
  if (json === undefined) logger?.error({ channel }, 'event bus: message is not JSON; not published');
  return json;
}
