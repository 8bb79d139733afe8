/**
 * `airlock connect`: stdio to an agent that launches its servers as commands (Claude Desktop), Streamable HTTP to
 * a running `airlock serve`, so that gateway's approvals (Slack, the console), policy and audit log apply to the
 * agent's calls. Messages pass through untouched both ways, and the SDK's client transport keeps the session.
 *
 * What the bridge adds is never leaving the agent waiting: a request the gateway cannot take (unreachable, the key
 * refused) or that it stops answering (its stream ended) is answered with an error naming the gateway, and when
 * the gateway forgets the session (a restart), a new one is opened with the agent's own initialize and the
 * message is sent again.
 */
import type { Logger } from '../log/logger.js';
import { isSessionExpired } from '../proxy/errors.js';
import { type JSONRPCMessage, ProtocolErrorCode, type RequestId, StreamableHTTPClientTransport, type Transport } from '../proxy/sdk.js';

export interface BridgeOptions {
  /** The gateway's endpoint: `/mcp` for every upstream, `/mcp/<server>` for one. */
  url: URL;
  /** Sent with every request (the grant's `Authorization`). */
  headers: Record<string, string>;
  logger: Logger;
}

type Request = JSONRPCMessage & { id: RequestId; method: string };

const isRequest = (message: JSONRPCMessage): message is Request => 'method' in message && 'id' in message && message.id !== undefined;
const isResponse = (message: JSONRPCMessage): message is JSONRPCMessage & { id: RequestId } => !('method' in message) && 'id' in message;

export class StdioHttpBridge {
  readonly #options: BridgeOptions;
  readonly #agent: Transport;
  #gateway: StreamableHTTPClientTransport;
  /** The agent's initialize and whether it has sent notifications/initialized: what a new session replays. */
  #initialize: Request | undefined;
  #initialized = false;
  /** Requests of the agent the gateway has not answered yet. */
  readonly #outstanding = new Set<RequestId>();
  /** While a new session is being opened, every message waits for it. */
  #reopening: Promise<void> | undefined;
  #replayedInitialize: { id: RequestId; answered: (message: JSONRPCMessage) => void } | undefined;
  #replays = 0;
  #closed = false;

  constructor(agent: Transport, options: BridgeOptions) {
    this.#agent = agent;
    this.#options = options;
    this.#gateway = this.#connectGateway();
  }

  async start(): Promise<void> {
    this.#agent.onmessage = (message) => void this.#fromAgent(message);
    this.#agent.onclose = () => void this.close();
    this.#agent.onerror = (error) => this.#options.logger.debug({ err: error.message }, 'stdio error');
    await this.#gateway.start();
    await this.#agent.start();
  }

  /** Ends the gateway's session (DELETE) and both transports. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#gateway.terminateSession().catch(() => undefined);
    await this.#gateway.close().catch(() => undefined);
    await this.#agent.close().catch(() => undefined);
  }

  #connectGateway(): StreamableHTTPClientTransport {
    const transport = new StreamableHTTPClientTransport(this.#options.url, { requestInit: { headers: this.#options.headers } });
    transport.onmessage = (message) => this.#fromGateway(message);
    transport.onerror = (error) => this.#options.logger.debug({ err: error.message }, 'gateway transport error');
    return transport;
  }

  #fromGateway(message: JSONRPCMessage): void {
    if (isResponse(message)) {
      const replay = this.#replayedInitialize;
      if (replay && message.id === replay.id) return replay.answered(message);
      this.#outstanding.delete(message.id);
      if (message.id === this.#initialize?.id) this.#learnVersion(message);
    }
    this.#agent.send(message).catch((error: Error) => this.#options.logger.warn({ err: error.message }, 'could not write to the agent'));
  }

  async #fromAgent(message: JSONRPCMessage): Promise<void> {
    if (isRequest(message)) {
      if (message.method === 'initialize') this.#initialize = message;
      this.#outstanding.add(message.id);
    } else if ('method' in message && message.method === 'notifications/initialized') {
      this.#initialized = true;
    }
    try {
      await this.#reopening;
      await this.#send(message);
    } catch (error) {
      if (!isSessionExpired(error) || this.#initialize === undefined || message === this.#initialize) return this.#fail(message, error);
      this.#options.logger.info('the gateway forgot this session (a restart?); opening a new one');
      try {
        await this.#reopen();
        await this.#send(message);
      } catch (retryError) {
        this.#fail(message, retryError);
      }
    }
  }

  #send(message: JSONRPCMessage): Promise<void> {
    if (!isRequest(message)) return this.#gateway.send(message);
    // A stream that ends without the answer (the gateway stopped mid-call) must not leave the agent waiting.
    const onRequestStreamEnd = () => {
      if (this.#outstanding.has(message.id)) this.#answerError(message, `Airlock at ${this.#options.url.href} closed the call's stream without an answer; retry it`);
    };
    return this.#gateway.send(message, { onRequestStreamEnd });
  }

  /** A new session, opened as the agent opened the first: its initialize (answered here), then initialized. */
  #reopen(): Promise<void> {
    this.#reopening ??= (async () => {
      const initialize = this.#initialize as Request;
      const previous = this.#gateway;
      this.#gateway = this.#connectGateway();
      await previous.close().catch(() => undefined);
      await this.#gateway.start();
      const id = `airlock-connect-${(this.#replays += 1)}`;
      const answer = new Promise<JSONRPCMessage>((answered) => (this.#replayedInitialize = { id, answered }));
      await this.#gateway.send({ ...initialize, id });
      const answered = await answer;
      this.#replayedInitialize = undefined;
      if ('error' in answered) throw new Error(`the gateway refused the new session: ${answered.error.message}`);
      this.#learnVersion(answered);
      if (this.#initialized) await this.#gateway.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    })().finally(() => {
      this.#reopening = undefined;
    });
    return this.#reopening;
  }

  /** The transport sends the negotiated version on every later request, as the SDK's Client tells it to. */
  #learnVersion(answer: JSONRPCMessage): void {
    const version = (answer as { result?: { protocolVersion?: unknown } }).result?.protocolVersion;
    if (typeof version === 'string') this.#gateway.setProtocolVersion(version);
  }

  #fail(message: JSONRPCMessage, error: unknown): void {
    const reason = describe(error);
    this.#options.logger.warn({ err: reason }, 'the gateway did not take a message');
    if (isRequest(message)) this.#answerError(message, `Airlock at ${this.#options.url.href} ${reason}`);
  }

  #answerError(request: Request, text: string): void {
    this.#outstanding.delete(request.id);
    const answer: JSONRPCMessage = { jsonrpc: '2.0', id: request.id, error: { code: ProtocolErrorCode.InternalError, message: text } };
    this.#agent.send(answer).catch(() => undefined);
  }
}

/** What went wrong, as the rest of a sentence beginning "Airlock at <url>". */
function describe(error: unknown): string {
  const { status, text } = ((error as { data?: unknown }).data ?? {}) as { status?: unknown; text?: unknown };
  if (typeof status === 'number') {
    const body = typeof text === 'string' ? (jsonRpcErrorMessage(text) ?? text.slice(0, 300)) : '';
    return `answered HTTP ${status}${status === 401 ? ' (check the key in AIRLOCK_KEY)' : ''}${body ? `: ${body}` : ''}`;
  }
  if ((error as Error).name === 'UnauthorizedError') return 'refused the key (HTTP 401; check AIRLOCK_KEY)';
  const cause = (error as { cause?: { message?: unknown } }).cause?.message;
  return `could not be reached: ${typeof cause === 'string' ? cause : (error as Error).message}`;
}

function jsonRpcErrorMessage(text: string): string | undefined {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    return typeof message === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}
