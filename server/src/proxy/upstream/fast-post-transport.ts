import { Agent as HttpAgent, type IncomingMessage, type OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { finished, type Readable } from 'node:stream';
import { urlToHttpOptions } from 'node:url';

import {
  type JSONRPCMessage,
  PROTOCOL_VERSION_META_KEY,
  type RequestId,
  ProtocolErrorCode,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  StreamableHTTPClientTransport,
  type Transport,
  type TransportSendOptions,
} from '../sdk.js';
import { BodyTooLargeError, decodedBody, discard, mediaType, readText } from '../../util/http-body.js';
import { toJsonRpcMessage } from './json-rpc-message.js';
import { SseParser } from './sse-parser.js';
import type { Fetch } from './bounded-fetch.js';

/** Header names the SDK transport derives itself and never takes from `options.headers` (its RESERVED_REQUEST_HEADER_NAMES). */
const RESERVED = new Set(['authorization', 'dpop', 'content-type', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'mcp-session-id']);
/** The largest answer taken from the upstream, and what to call the upstream and the limit when one is larger. */
export interface MessageLimit {
  maxBytes: number;
  /** Names the upstream and the setting, e.g. `Upstream "files"` and `servers.files.maxMessageSize (10mb)`. */
  upstream: string;
  setting: string;
}

/** How long an idle socket is kept (undici's default); the Agent shortens it to a server's Keep-Alive hint less a second. */
const IDLE_SOCKET_MS = 4_000;

/**
 * The Streamable HTTP client transport of an upstream, with the proxy's hot path taken off the SDK: once the
 * session exists, each plain 2025-era message (a request, a notification, our answer to an upstream request) is
 * POSTed with node:http on a keep-alive agent, and the answer, JSON or an SSE stream, is read here. undici's fetch,
 * the web-stream SSE pipeline and a zod parse per message cost the gateway about a sixth of its CPU.
 *
 * Everything else stays with the SDK transport inside, unchanged: initialize and its session, the GET stream,
 * resumption, 2026-enveloped requests (their 400 answers are the SDK's to read), and answers that only the SDK can
 * read faithfully. What this class does with an answer is what the SDK's `_send` and `_handleSseStream` do.
 */
export class FastPostTransport implements Transport {
  // TS-private rather than #private: createUpstreamTransport wraps this object in a Proxy (deliverInOrder), and
  // #private members cannot be reached through a Proxy.
  private readonly inner: StreamableHTTPClientTransport;
  /** The URL as request options, converted once rather than by node:http on every POST. */
  private readonly target: ReturnType<typeof urlToHttpOptions>;
  private readonly headers: Record<string, string>;
  private readonly agent: HttpAgent;
  private readonly request: typeof httpRequest;
  private readonly closing = new AbortController();
  private readonly limit: MessageLimit | undefined;
  private protocolVersion: string | undefined;
  /** Upstream requests that arrived on the SSE answer of one of our requests, and that request's relatedRequestId. */
  private readonly askedWithin = new Map<RequestId, RequestId>();

  readonly hasPerRequestStream = true;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport['onmessage'];

  /**
   * With a `limit`, a JSON answer or an SSE event larger than it is dropped and its request answered with a
   * JSON-RPC error saying so: an upstream cannot make the gateway buffer without bound. What the SDK transport
   * reads (the handshake, the GET stream, resumption) goes through `sdkFetch` (see boundedFetch).
   */
  constructor(url: URL, headers: Record<string, string> = {}, limit?: MessageLimit, sdkFetch?: Fetch) {
    this.target = urlToHttpOptions(url);
    this.limit = limit;
    this.inner = new StreamableHTTPClientTransport(url, { requestInit: { headers }, ...(sdkFetch ? { fetch: sdkFetch } : {}) });
    // Normalised as the SDK's Headers object does: lower-cased names, trimmed values, repeated names joined.
    this.headers = {};
    new Headers(headers).forEach((value, name) => {
      this.headers[name] = value;
    });
    const secure = url.protocol === 'https:';
    this.agent = secure ? new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }) : new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
    this.request = secure ? httpsRequest : httpRequest;
    this.inner.onmessage = (message) => this.onmessage?.(message);
    this.inner.onerror = (error) => this.onerror?.(error);
    this.inner.onclose = () => this.onclose?.();
  }

  /**
   * The relatedRequestId our request was sent with, if the upstream request `id` arrived on its SSE answer (the
   * spec's way of saying which request it belongs to, mcp-protocol.md §2.5). Asked once, by its handler.
   */
  relatedRequestOf(id: RequestId): RequestId | undefined {
    const related = this.askedWithin.get(id);
    this.askedWithin.delete(id);
    return related;
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
    this.inner.setProtocolVersion(version);
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.agent.destroy();
    await this.inner.close();
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (!this.takes(message, options)) return this.inner.send(message, options);
    try {
      const res = await this.post(message, options);
      if (!leftToSdk(res)) return await this.receive(res, message, options);
      discard(res);
    } catch (error) {
      // As the SDK does: a failed send is reported, unless its caller aborted it.
      if (options?.requestSignal?.aborted !== true) this.onerror?.(error as Error);
      throw error;
    }
    // The upstream did not process the request; the SDK sends it again and decides what the answer means.
    return this.inner.send(message, options);
  }

  /** The hot case: a 2025-era message, not the handshake, on an established session, on an open transport. */
  private takes(message: JSONRPCMessage, options: TransportSendOptions | undefined): boolean {
    if (this.inner.sessionId === undefined || options?.resumptionToken !== undefined || this.closing.signal.aborted) return false;
    if (!('method' in message)) return true;
    if (message.method === 'initialize' || message.method === 'notifications/initialized') return false;
    return (message.params?._meta as Record<string, unknown> | undefined)?.[PROTOCOL_VERSION_META_KEY] === undefined;
  }

  /** Sends the POST and resolves with the response head; rejects as fetch would, with the abort reason if aborted. */
  private post(message: JSONRPCMessage, options: TransportSendOptions | undefined): Promise<IncomingMessage> {
    const body = JSON.stringify(message);
    const headers = this.headersFor(options, Buffer.byteLength(body));
    const requestSignal = options?.requestSignal;
    return new Promise((resolve, reject) => {
      if (requestSignal?.aborted) {
        reject(requestSignal.reason);
        return;
      }
      const req = this.request({ ...this.target, method: 'POST', agent: this.agent, headers });
      // Closing destroys the agent's sockets; a request signal destroys its own, even mid-stream.
      const abort = () => req.destroy(new Error('aborted'));
      requestSignal?.addEventListener('abort', abort, { once: true });
      req.once('close', () => requestSignal?.removeEventListener('abort', abort));
      req.on('error', (error) => reject(this.abortReason(requestSignal) ?? error));
      req.once('response', resolve);
      req.end(body);
    });
  }

  /** Exactly the headers the SDK's `_send` puts on a POST of this message. */
  private headersFor(options: TransportSendOptions | undefined, contentLength: number): OutgoingHttpHeaders {
    const headers: Record<string, string> = { ...this.headers, 'mcp-session-id': this.inner.sessionId as string };
    if (this.protocolVersion) headers['mcp-protocol-version'] = this.protocolVersion;
    for (const [name, value] of Object.entries(options?.headers ?? {})) {
      const lower = name.toLowerCase();
      if (!RESERVED.has(lower)) headers[lower] = value;
    }
    headers['content-type'] = 'application/json';
    headers.accept = acceptHeader(headers.accept);
    headers['content-length'] = String(contentLength);
    return headers;
  }

  private async receive(res: IncomingMessage, message: JSONRPCMessage, options: TransportSendOptions | undefined): Promise<void> {
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) {
      const text = await readText(decodedBody(res)).catch(() => null);
      throw new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, `Error POSTing to endpoint: ${text}`, {
        status,
        statusText: res.statusMessage ?? '',
        text,
      });
    }
    if (status === 202 || !('method' in message && 'id' in message)) {
      discard(res);
      return;
    }
    const contentType = res.headers['content-type'];
    switch (mediaType(contentType)) {
      case 'text/event-stream':
        this.readEvents(decodedBody(res), message, options);
        return;
      case 'application/json': {
        let text: string;
        try {
          text = await readText(decodedBody(res), this.limit?.maxBytes);
        } catch (error) {
          if (!(error instanceof BodyTooLargeError)) throw error;
          this.onmessage?.(this.tooLarge(message));
          return;
        }
        const data: unknown = JSON.parse(text);
        const messages = Array.isArray(data) ? data.map(toJsonRpcMessage) : [toJsonRpcMessage(data)];
        for (const received of messages) this.onmessage?.(received);
        return;
      }
      default:
        discard(res);
        throw new SdkError(SdkErrorCode.ClientHttpUnexpectedContent, `Unexpected content type: ${contentType ?? null}`, {
          contentType: contentType ?? null,
        });
    }
  }

  /**
   * Hands each message event of an SSE answer to onmessage as it arrives (send has resolved by then). A stream that
   * ends without a response goes back to the SDK: resumed from its last event id if it had one, else reported
   * through onRequestStreamEnd, as the SDK does for a stream it cannot resume.
   */
  private readEvents(body: Readable, message: JSONRPCMessage, options: TransportSendOptions | undefined): void {
    let lastEventId: string | undefined;
    let answered = false;
    const asked: RequestId[] = [];
    // An event is checked while it arrives, in characters (the parser's unit; never more than its bytes), and in
    // UTF-8 bytes once whole, which only an event of more than a third of the limit in characters costs a count.
    // Dropping destroys the body: the rest of the chunk being parsed is ignored, and the request is answered with
    // an error unless the upstream had answered it already.
    const maxBytes = this.limit?.maxBytes ?? Infinity;
    const drop = () => {
      body.destroy();
      if (!answered) this.onmessage?.(this.tooLarge(message));
      answered = true;
    };
    const parser = new SseParser((event) => {
      if (body.destroyed) return;
      if (event.data.length * 3 > maxBytes && Buffer.byteLength(event.data) > maxBytes) return drop();
      if (event.id) {
        lastEventId = event.id;
        options?.onresumptiontoken?.(event.id);
      }
      if (event.data === '' || (event.event !== undefined && event.event !== 'message')) return;
      try {
        const received = toJsonRpcMessage(JSON.parse(event.data));
        if (!('method' in received)) answered = true;
        else if ('id' in received && options?.relatedRequestId !== undefined) {
          this.askedWithin.set(received.id, options.relatedRequestId);
          asked.push(received.id);
        }
        this.onmessage?.(received);
      } catch (error) {
        this.onerror?.(error as Error);
      }
    });
    body.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      if (!body.destroyed && parser.pending > maxBytes) drop();
    });
    finished(body, (error) => {
      // What no handler asked about (a ping the SDK answers itself) is forgotten, once handlers have run.
      if (asked.length > 0) setImmediate(() => asked.forEach((id) => this.askedWithin.delete(id)));
      if (this.abortReason(options?.requestSignal) !== undefined) return;
      if (error) this.onerror?.(new Error(`SSE stream disconnected: ${error}`));
      if (lastEventId === undefined || answered) {
        options?.onRequestStreamEnd?.();
        return;
      }
      // The SDK's resumption: a GET with Last-Event-ID whose replayed response takes this request's id. It reports
      // its own failures through onerror.
      const resumption = { resumptionToken: lastEventId, onresumptiontoken: options?.onresumptiontoken, requestSignal: options?.requestSignal };
      this.inner.send(message, resumption).catch(() => undefined);
    });
  }

  /** The answer to the request `message` when the upstream's was larger than the limit. */
  private tooLarge(message: JSONRPCMessage): JSONRPCMessage {
    const limit = this.limit as MessageLimit;
    const { id, method } = message as { id: string | number; method: string };
    return {
      jsonrpc: '2.0',
      id,
      error: {
        code: ProtocolErrorCode.InternalError,
        message: `${limit.upstream} sent a message larger than ${limit.setting} while answering ${method}; Airlock dropped it`,
      },
    };
  }

  /** Why a request was stopped on purpose (the transport closed, or its caller aborted it), if it was. */
  private abortReason(requestSignal: AbortSignal | undefined): unknown {
    if (this.closing.signal.aborted) return this.closing.signal.reason;
    return requestSignal?.aborted ? requestSignal.reason : undefined;
  }
}

/** The SDK's Accept: the configured types, then the two a Streamable HTTP answer may have, each once. */
function acceptHeader(configured: string | undefined): string {
  const types = configured?.split(',').map((type) => type.trim().toLowerCase()) ?? [];
  return [...new Set([...types, 'application/json', 'text/event-stream'])].join(', ');
}

/**
 * Answers the SDK reads by policies of its own, and for which the upstream did not process the request: redirects
 * (its redirect policy) and an insufficient-scope challenge (its step-up flow).
 */
function leftToSdk(res: IncomingMessage): boolean {
  const status = res.statusCode ?? 0;
  return (status >= 300 && status < 400) || (status === 403 && (res.headers['www-authenticate'] ?? '').includes('insufficient_scope'));
}
