/**
 * The transport of one 2025-era session. The SDK's NodeStreamableHTTPServerTransport serves everything except the
 * hot case, a POST carrying one JSON-RPC request on the established session, which is answered here on the Node
 * response itself: as JSON when the answer is the first thing to go back, as an SSE stream from the moment
 * something tied to the request (progress, a log line, an elicitation) must go before it. The SDK adapts every
 * request to web streams first (a Request, a ReadableStream, a TextEncoder per response), which costs the gateway
 * about as much CPU as the upstream's whole server spends on the call.
 *
 * Anything this class is not sure about (odd headers, batches, a reused id) goes to the SDK transport, which
 * answers it as it always did.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { Clock } from '../../util/clock.js';
import {
  isJsonContentType,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type NodeStreamableHTTPServerTransport,
  type RequestId,
  type Transport,
  type TransportSendOptions,
} from '../sdk.js';
import { requestView } from './request-view.js';

/** A comment line on an SSE stream that has been silent this long keeps proxies from closing it (the SDK's own default). */
const KEEP_ALIVE_MS = 15_000;
/** How often the gateway looks for silent responses (see LegacySessions.keepAlive). */
export const KEEP_ALIVE_SWEEP_MS = 1_000;

export class SessionTransport implements Transport {
  readonly #inner: NodeStreamableHTTPServerTransport;
  /** Requests answered on their own response, by JSON-RPC id. */
  readonly #open = new Map<RequestId, DirectResponse>();
  readonly #clock: Clock;
  #supportedVersions: readonly string[] | undefined;

  onmessage?: Transport['onmessage'];
  onclose?: Transport['onclose'];
  onerror?: Transport['onerror'];

  constructor(inner: NodeStreamableHTTPServerTransport, clock: Clock) {
    this.#inner = inner;
    this.#clock = clock;
    inner.onmessage = (message, extra) => {
      this.#noteCancellation(message);
      this.onmessage?.(message, extra);
    };
    inner.onclose = () => {
      for (const response of this.#open.values()) response.abandon();
      this.#open.clear();
      this.onclose?.();
    };
    inner.onerror = (error) => this.onerror?.(error);
  }

  get sessionId(): string | undefined {
    return this.#inner.sessionId;
  }

  async start(): Promise<void> {
    await this.#inner.start();
  }

  setSupportedProtocolVersions(versions: string[]): void {
    this.#supportedVersions = versions;
    this.#inner.setSupportedProtocolVersions(versions);
  }

  async close(): Promise<void> {
    await this.#inner.close();
  }

  /** Serves one HTTP request of this session: the hot case here, everything else through the SDK transport. */
  async handleRequest(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const id = this.#directId(req, body);
    if (id === undefined) {
      await this.#inner.handleRequest(req, res, body);
      return;
    }
    const response = new DirectResponse(res, this.#inner.sessionId as string, this.#clock.now());
    this.#open.set(id, response);
    // A client that hangs up before its answer has given up on the request: cancel it as if it had said so
    // (a held approval is then left, the upstream call aborted).
    res.once('close', () => {
      if (this.#open.get(id) !== response) return;
      this.#open.delete(id);
      response.abandon();
      this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'the client disconnected' } });
    });
    const extra: MessageExtraInfo = { request: requestView(req) };
    const auth = (req as IncomingMessage & { auth?: MessageExtraInfo['authInfo'] }).auth;
    if (auth) extra.authInfo = auth;
    this.onmessage?.(body as JSONRPCMessage, extra);
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    // The SDK Server built the message: anything without a method is its answer to a request.
    const answer = !('method' in message);
    const id = answer ? message.id : options?.relatedRequestId;
    const response = id === undefined ? undefined : this.#open.get(id);
    if (!response) {
      await this.#inner.send(message, options);
      return;
    }
    if (answer) {
      this.#open.delete(id as RequestId);
      response.finish(message);
    } else {
      response.event(message, this.#clock.now());
    }
  }

  /**
   * Sends a keep-alive comment on each open response silent for KEEP_ALIVE_MS at `now`, turning it into a stream
   * if it was not one yet (a call held for approval without a progress token). Driven by one timer for all
   * sessions (LegacySessions.keepAlive) rather than one per request, testable with a clock.
   */
  keepAlive(now: number): void {
    for (const response of this.#open.values()) if (response.silentSince(now) >= KEEP_ALIVE_MS) response.keepAlive(now);
  }

  /** The id of a request this class answers itself, or undefined to leave the request to the SDK transport. */
  #directId(req: IncomingMessage, body: unknown): RequestId | undefined {
    if (req.method !== 'POST' || typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
    const message = body as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
    if (message.jsonrpc !== '2.0' || typeof message.method !== 'string' || message.method === 'initialize') return undefined;
    const id = message.id;
    if ((typeof id !== 'string' && typeof id !== 'number') || this.#open.has(id)) return undefined;
    if (message.params !== undefined && (typeof message.params !== 'object' || message.params === null || Array.isArray(message.params))) return undefined;
    const sessionId = this.#inner.sessionId;
    if (sessionId === undefined || req.headers['mcp-session-id'] !== sessionId) return undefined;
    const accept = req.headers.accept;
    if (!accept?.includes('application/json') || !accept.includes('text/event-stream')) return undefined;
    if (!isJsonContentType(req.headers['content-type'] ?? null)) return undefined;
    const version = req.headers['mcp-protocol-version'];
    if (version !== undefined && !(typeof version === 'string' && this.#supportedVersions?.includes(version))) return undefined;
    return id;
  }

  /** A cancelled request will get no answer from the Server, so its response is closed here. */
  #noteCancellation(message: JSONRPCMessage): void {
    if (!('method' in message) || message.method !== 'notifications/cancelled' || 'id' in message) return;
    const id = (message.params as { requestId?: RequestId } | undefined)?.requestId;
    const response = id === undefined ? undefined : this.#open.get(id);
    if (!response) return;
    this.#open.delete(id as RequestId);
    response.abandon();
  }
}

/** One request's HTTP response: JSON if the answer comes first, SSE once anything else has to go before it. */
class DirectResponse {
  readonly #res: ServerResponse;
  readonly #sessionId: string;
  #streaming = false;
  /** When this response last sent something, or opened (clock ms). */
  #lastSent: number;

  constructor(res: ServerResponse, sessionId: string, now: number) {
    this.#res = res;
    this.#sessionId = sessionId;
    this.#lastSent = now;
  }

  silentSince(now: number): number {
    return now - this.#lastSent;
  }

  /** A long silence turns into a stream with comments, as the SDK transport's own streams do. */
  keepAlive(now: number): void {
    if (this.#res.writableEnded || this.#res.destroyed) return;
    this.#stream();
    this.#res.write(': keepalive\n\n');
    this.#lastSent = now;
  }

  event(message: JSONRPCMessage, now: number): void {
    this.#stream();
    this.#res.write(sseEvent(message));
    this.#lastSent = now;
  }

  finish(message: JSONRPCMessage): void {
    if (this.#res.writableEnded || this.#res.destroyed) return;
    if (this.#streaming) {
      this.#res.end(sseEvent(message));
      return;
    }
    const body = JSON.stringify(message);
    this.#res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': this.#sessionId, 'content-length': Buffer.byteLength(body) });
    this.#res.end(body);
  }

  /** No answer will come (cancelled, transport closed): an empty stream tells the client so. */
  abandon(): void {
    if (this.#res.writableEnded || this.#res.destroyed) return;
    this.#stream();
    this.#res.end();
  }

  #stream(): void {
    if (this.#streaming || this.#res.headersSent) return;
    this.#streaming = true;
    this.#res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'mcp-session-id': this.#sessionId,
    });
    this.#res.flushHeaders();
  }
}

function sseEvent(message: JSONRPCMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}
