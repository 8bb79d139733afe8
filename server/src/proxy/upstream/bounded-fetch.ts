/**
 * The fetch given to the SDK's upstream transports, for what they read themselves: the handshake, the standalone
 * GET stream, resumption, the answers FastPostTransport leaves to them, and legacy HTTP+SSE upstreams. It bounds
 * them as FastPostTransport bounds the hot path: a JSON body, or an SSE event (its bytes up to the blank line that
 * ends it), larger than the upstream's maxMessageSize ends the body with an error naming the upstream and the
 * setting, and the connection is dropped. The SDK then fails what it was reading, as it would on a dropped
 * connection (a GET stream is opened again), instead of buffering without bound; `dropped` hears of it first.
 */
import { mediaType } from '../../util/http-body.js';
import type { MessageLimit } from './fast-post-transport.js';

export type Fetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

const LF = 0x0a;
const CR = 0x0d;

export class MessageTooLargeError extends Error {
  constructor(limit: MessageLimit) {
    super(`${limit.upstream} sent a message larger than ${limit.setting}; Airlock dropped it and closed the connection`);
    this.name = 'MessageTooLargeError';
  }
}

export function boundedFetch(limit: MessageLimit, dropped: () => void = () => {}, inner: Fetch = fetch): Fetch {
  return async (url, init) => {
    const response = await inner(url, init);
    // A redirect the SDK reads itself (its url, its Location) stays the response fetch gave: a copy has no url.
    if (response.body === null || (response.status >= 300 && response.status < 400)) return response;
    const sse = mediaType(response.headers.get('content-type') ?? undefined) === 'text/event-stream';
    const body = bounded(response.body, sse ? eventSizes(limit.maxBytes) : bodySize(limit.maxBytes), limit, dropped);
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/**
 * Where a chunk takes the stream past the limit: undefined while it does not, else how many of its bytes may still
 * be delivered (the events it completes before the one that is too large).
 */
type Scanner = (chunk: Uint8Array) => number | undefined;

/**
 * `source` as read through `scan`. Pulled one read at a time, so what comes before an oversized message reaches the
 * reader before the error does (an erroring stream discards what its reader has not taken yet).
 */
function bounded(source: ReadableStream<Uint8Array>, scan: Scanner, limit: MessageLimit, dropped: () => void): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let failure: MessageTooLargeError | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (failure) return controller.error(failure);
        const { done, value } = await reader.read();
        if (done) return controller.close();
        const kept = scan(value);
        if (kept === undefined) return controller.enqueue(value);
        dropped();
        failure = new MessageTooLargeError(limit);
        reader.cancel(failure).catch(() => undefined);
        if (kept > 0) controller.enqueue(value.subarray(0, kept));
        else controller.error(failure);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** A JSON body is one message: nothing of a body larger than the limit is delivered. */
function bodySize(maxBytes: number): Scanner {
  let size = 0;
  return (chunk) => {
    size += chunk.byteLength;
    return size > maxBytes ? 0 : undefined;
  };
}

/** Counts each event's bytes, line ends aside; CR, LF and CRLF end a line, and an empty line ends the event. */
function eventSizes(maxBytes: number): Scanner {
  let size = 0;
  let atLineStart = true;
  let afterCr = false;
  return (chunk) => {
    // Where the event under way began in this chunk (0: in an earlier one, all of it already delivered).
    let eventStart = 0;
    for (let i = 0; i < chunk.length; i += 1) {
      const byte = chunk[i];
      if (byte === LF && afterCr) {
        afterCr = false;
        if (size === 0) eventStart = i + 1;
        continue;
      }
      afterCr = byte === CR;
      if (byte === LF || byte === CR) {
        if (atLineStart) {
          size = 0;
          eventStart = i + 1;
        }
        atLineStart = true;
      } else {
        atLineStart = false;
        size += 1;
        if (size > maxBytes) return eventStart;
      }
    }
    return undefined;
  };
}
