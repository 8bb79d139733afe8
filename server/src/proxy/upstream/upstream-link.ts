/**
 * One connection to one upstream MCP server, kept alive across crashes: it connects lazily, reconnects after
 * the upstream dies (with exponential backoff measured on the injected clock), rebuilds an expired HTTP
 * session once per request, and relays what the upstream sends back — progress with re-minted tokens,
 * sampling/elicitation/roots requests and log messages — to the downstream request that caused them. Between
 * eras it translates: 2026 input_required rounds become requests to a 2025 client (input-required.ts), and a
 * 2025 upstream's requests reach a 2026 client as input_required while its call is held (suspended-calls.ts).
 *
 * It does not decide anything about policy and does not know about other upstreams.
 */
import type { UpstreamConfig } from '../../config/schema.js';
import { AirlockError } from '../../errors/airlock-error.js';
import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import { formatDuration, MAX_TIMER_MS } from '../../util/duration.js';
import { forEachHeader } from '../downstream/request-view.js';
import { isSessionExpired, refusesLegacyEra, toDownstreamError } from '../errors.js';
import {
  Client,
  type ClientCapabilities,
  type Implementation,
  type JSONRPCRequest,
  LOG_LEVEL_META_KEY,
  type McpSubscription,
  type Notification,
  passthrough,
  ProtocolError,
  ProtocolErrorCode,
  type RequestId,
  type Result,
  type ServerCapabilities,
  type ServerContext,
  type SubscriptionFilter,
  type VersionNegotiationOptions,
} from '../sdk.js';
import { callerOf } from './caller.js';
import { fulfilInputRequired, type InputRound, isInputRequired } from './input-required.js';
import type { HeldStateSeal } from './held-state.js';
import { SilenceTimer } from './silence-timer.js';
import { type HeldAttempt, SuspendedCalls } from './suspended-calls.js';
import { createUpstreamTransport, messageLimit } from './transport.js';

/** Where the upstream's own requests and notifications go when no call of ours is in flight. */
export interface DownstreamPeer {
  request(request: { method: string; params?: Record<string, unknown> }, signal: AbortSignal): Promise<Result>;
  notify(notification: Notification): Promise<void>;
}

export interface UpstreamLinkOptions {
  name: string;
  config: UpstreamConfig;
  /** What the downstream client can do (sampling, elicitation, roots): declared upstream only if true downstream. */
  capabilities: ClientCapabilities;
  clientInfo: Implementation;
  /**
   * The era of the downstream requests this link serves. `legacy` (2025-era sessions) speaks 2025-11-25 upstream:
   * its decoding is fully passthrough, so unknown content types survive. Only an upstream that refuses 2025 (or
   * one configured `protocol: "2026-07-28"`) is spoken to in 2026-07-28, and its input_required rounds are then
   * fulfilled here through the session. `modern` negotiates 2026-07-28 when the upstream has it and serves
   * 2026-era downstream requests: their envelope and input_required rounds are relayed as they are.
   */
  era: 'legacy' | 'modern';
  connectTimeoutMs: number;
  clock: Clock;
  logger: Logger;
  downstream?: DownstreamPeer;
  /**
   * Upstreams found to refuse the 2025 era, shared by every link of the gateway: links are per session, and a new
   * session should not pay a refused initialize to learn it again.
   */
  modernOnly?: Set<string>;
  /** Seals the requestState of calls held for a 2026 client, one seal for the whole gateway (held-state.ts). */
  heldStates: HeldStateSeal;
}

export interface ForwardOptions {
  /** The downstream request this forward serves: its signal cancels upstream, its progress token is re-minted. */
  ctx?: ServerContext;
  timeoutMs?: number;
}

/** An upstream request in flight for a call: what it was sent for, and the timer of the upstream's silence. */
interface Forwarded {
  readonly origin: ServerContext | HeldAttempt;
  readonly silence: SilenceTimer;
}

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 30_000;
/** Upper bound on pages fetched for one list, against a server whose cursor never ends. */
const MAX_PAGES = 100;
/** Humans answer elicitation and sampling; the SDK's 60 s default is far too short for them. */
const RELAY_TIMEOUT_MS = 10 * 60_000;
const MODERN: VersionNegotiationOptions = { mode: { pin: '2026-07-28' } };
const LEGACY: VersionNegotiationOptions = { mode: 'legacy' };
const TIMED_OUT = Symbol('timed out');
/** The requests whose 2026 result may be input_required, so whose upstream questions can reach a 2026 client. */
const INPUT_CAPABLE = new Set(['tools/call', 'prompts/get', 'resources/read']);
/** What a 2025 session asks that a 2026 upstream has no method for (see #translate). */
const NO_2026_METHOD = new Set(['logging/setLevel', 'resources/subscribe', 'resources/unsubscribe']);

export class UpstreamLink {
  readonly name: string;
  readonly #options: UpstreamLinkOptions;
  #client: Client | undefined;
  #connecting: Promise<Client> | undefined;
  #failures = 0;
  #retryAt = 0;
  #lastError = '';
  /** Why the transport closed itself, when it said (a stdio line over the size limit), for the calls it failed. */
  #closedBecause: string | undefined;
  #closed = false;
  /** Downstream requests currently forwarded to this upstream, most recent last (see relayRequest). */
  readonly #inflight: ServerContext[] = [];
  /** Requests in flight on each client, and the clients retired for an expired session (see #reset). */
  readonly #sending = new Map<Client, number>();
  readonly #expired = new WeakSet<Client>();
  /**
   * Each upstream request in flight that was sent for a call, by the relatedRequestId it was sent with: an HTTP
   * upstream's question arrives on the answer stream of the request it belongs to, and the transport reports that id.
   */
  readonly #origins = new Map<RequestId, Forwarded>();
  #nextOrigin = 0;
  #serverCapabilities: ServerCapabilities | undefined;
  #instructions: string | undefined;
  /** How the client settles its protocol; a legacy link that found a 2026-only upstream keeps that verdict. */
  #negotiation: VersionNegotiationOptions;
  /** Calls of 2026 clients held open while the client answers what a 2025 upstream asked mid-call. */
  readonly #held: SuspendedCalls;
  /**
   * The log level a 2025 session set, for a link that speaks 2026 upstream: that era has no logging/setLevel, each
   * request carries the level it wants log messages at.
   */
  #logLevel: string | undefined;
  /**
   * For the same links: the resources the session subscribed to, and the subscriptions/listen stream that carries
   * their updates and the list changes a 2025 upstream would have sent unasked.
   */
  readonly #resourceSubscriptions = new Set<string>();
  #listening: McpSubscription | undefined;
  #listenQueue: Promise<void> = Promise.resolve();

  constructor(options: UpstreamLinkOptions) {
    this.name = options.name;
    this.#options = options;
    this.#negotiation = initialNegotiation(options.config.protocol, options.era, options.modernOnly?.has(options.name) === true);
    this.#held = new SuspendedCalls(options.name, options.clock, options.heldStates);
  }

  /** Whether a request continues a call held here (see SuspendedCalls): it was admitted already. */
  continues(ctx: ServerContext): boolean {
    return this.#options.era === 'modern' && SuspendedCalls.continues(ctx);
  }

  get serverCapabilities(): ServerCapabilities | undefined {
    return this.#serverCapabilities;
  }

  get instructions(): string | undefined {
    return this.#instructions;
  }

  get connected(): boolean {
    return this.#client !== undefined;
  }

  /** Connects if needed. Inside the backoff window after a failure it fails at once with the reason. */
  async connect(): Promise<Client> {
    if (this.#client) return this.#client;
    if (this.#connecting) return this.#connecting;
    if (this.#closed) throw new AirlockError('UPSTREAM_UNAVAILABLE', `Upstream "${this.name}" is closed`);
    const wait = this.#retryAt - this.#options.clock.now();
    if (wait > 0) {
      throw new AirlockError(
        'UPSTREAM_UNAVAILABLE',
        `Upstream "${this.name}" is unavailable (${this.#lastError}); next attempt in ${formatDuration(wait)}`,
      );
    }
    this.#connecting = this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #open(): Promise<Client> {
    const { name, config, logger } = this.#options;
    let client: Client;
    try {
      client = await this.#connectWith(this.#negotiation).catch((error: unknown) => {
        if (config.protocol === 'auto' && this.#negotiation === MODERN && this.#options.modernOnly?.delete(name)) {
          // What another session learned no longer holds (the upstream was replaced): ask again next time.
          this.#negotiation = initialNegotiation(config.protocol, this.#options.era, false);
          throw error;
        }
        if (!(config.protocol === 'auto' && this.#negotiation === LEGACY && refusesLegacyEra(error))) throw error;
        logger.info({ upstream: name }, 'upstream refuses 2025-era protocol versions; speaking 2026-07-28 to it');
        this.#negotiation = MODERN;
        this.#options.modernOnly?.add(name);
        return this.#connectWith(MODERN);
      });
    } catch (error) {
      this.#recordFailure(error instanceof Error ? error.message : String(error));
      throw new AirlockError('UPSTREAM_UNAVAILABLE', `Upstream "${name}" could not be reached: ${this.#lastError}`, { cause: error });
    }
    this.#failures = 0;
    this.#closedBecause = undefined;
    this.#serverCapabilities = client.getServerCapabilities();
    this.#instructions = client.getInstructions();
    client.onclose = () => {
      if (this.#client !== client) return;
      this.#client = undefined;
      if (!this.#closed) {
        this.#recordFailure('its connection closed');
        logger.warn({ upstream: name }, 'upstream connection closed; it will be reconnected on next use');
      }
    };
    if (this.#closed) {
      await client.close();
      throw new AirlockError('UPSTREAM_UNAVAILABLE', `Upstream "${name}" is closed`);
    }
    this.#client = client;
    if (this.#options.era === 'legacy' && this.#negotiation === MODERN) await this.#listenBeforeUse(client);
    return client;
  }

  /**
   * A 2025 session hears of list changes only through the listen stream, so the link is used once the upstream has
   * acknowledged it: a change announced right after the session's initialize is relayed, not lost. An upstream that
   * does not acknowledge within the connect timeout is used anyway, the stream still opening in the background.
   */
  async #listenBeforeUse(client: Client): Promise<void> {
    if ((await this.#withinConnectTimeout(this.#listen(client))) === TIMED_OUT) {
      this.#options.logger.warn(
        { upstream: this.name },
        `upstream did not acknowledge subscriptions/listen within ${formatDuration(this.#options.connectTimeoutMs)}; list changes it announces before it does are not relayed`,
      );
    }
  }

  /** (Re)opens the link's subscriptions/listen stream, one change at a time, so only the last filter stays open. */
  #listen(client: Client): Promise<void> {
    const next = this.#listenQueue.then(() => this.#relisten(client));
    this.#listenQueue = next;
    return next;
  }

  /** The stream carries what a 2025 session hears without asking: list changes and subscribed resources. */
  async #relisten(client: Client): Promise<void> {
    const previous = this.#listening;
    this.#listening = undefined;
    await previous?.close().catch(() => undefined);
    const caps = client.getServerCapabilities() ?? {};
    const filter: SubscriptionFilter = {
      ...(caps.tools?.listChanged ? { toolsListChanged: true } : {}),
      ...(caps.prompts?.listChanged ? { promptsListChanged: true } : {}),
      ...(caps.resources?.listChanged ? { resourcesListChanged: true } : {}),
      ...(this.#resourceSubscriptions.size > 0 ? { resourceSubscriptions: [...this.#resourceSubscriptions] } : {}),
    };
    if (Object.keys(filter).length === 0 || this.#client !== client) return;
    try {
      this.#listening = await client.listen(filter);
    } catch (error) {
      this.#options.logger.warn({ upstream: this.name, err: (error as Error).message }, 'could not listen for upstream changes; list changes and resource updates will not be relayed');
    }
  }

  async #connectWith(negotiation: VersionNegotiationOptions): Promise<Client> {
    const { name, config, logger } = this.#options;
    const client = new Client(this.#options.clientInfo, { capabilities: this.#declaredCapabilities(), versionNegotiation: negotiation });
    // The SDK's stdio transport closes itself on a line longer than its buffer; the calls it fails should say so.
    const { setting } = messageLimit(name, config);
    client.onerror = (error) => {
      if (!error.message.startsWith('ReadBuffer exceeded')) return;
      this.#closedBecause = `it wrote a message larger than ${setting}`;
    };
    client.fallbackNotificationHandler = (notification) => this.#relayNotification(notification);
    const dropped = () => {
      logger.warn({ upstream: name, maxMessageSize: config.maxMessageSize }, 'upstream sent a message larger than its maxMessageSize; dropped');
      // A legacy HTTP+SSE upstream answers everything on its one stream, which is gone: so is its session, and the
      // calls waiting on it fail now, saying why, instead of at their timeout.
      if (config.transport !== 'sse') return;
      this.#closedBecause = `it sent a message larger than ${setting}`;
      void client.close();
    };
    const transport = createUpstreamTransport(name, config, logger, dropped);
    client.fallbackRequestHandler = (request, ctx) => this.#relayRequest(request, transport.relatedRequestOf?.(request.id), ctx.mcpReq.signal);
    try {
      if ((await this.#withinConnectTimeout(client.connect(transport))) === TIMED_OUT) {
        throw new Error(`no answer to initialize within ${formatDuration(this.#options.connectTimeoutMs)}`);
      }
      return client;
    } catch (error) {
      await client.close().catch(() => undefined);
      throw error;
    }
  }

  /** What `work` settles with, or TIMED_OUT when the connect timeout passes first (`work` then goes on). */
  async #withinConnectTimeout<T>(work: Promise<T>): Promise<T | typeof TIMED_OUT> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([work, new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), this.#options.connectTimeoutMs)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A modern link is shared by 2026 clients, each declaring its capabilities per request (forwarded in its
   * envelope). A 2025 upstream hears them once, at initialize, so it is told everything a client might answer;
   * SuspendedCalls then refuses a question the calling client cannot answer.
   */
  #declaredCapabilities(): ClientCapabilities {
    return this.#options.era === 'modern' ? { sampling: {}, elicitation: { form: {}, url: {} }, roots: {} } : this.#options.capabilities;
  }

  #recordFailure(reason: string): void {
    this.#failures += 1;
    this.#lastError = reason;
    const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (this.#failures - 1));
    // The first reconnect after a crash is immediate: a call should not fail just because the previous one crashed it.
    this.#retryAt = this.#failures === 1 ? 0 : this.#options.clock.now() + backoff;
  }

  /**
   * Forwards one request and returns the upstream's result unchanged. Errors come back as the ProtocolError the
   * agent should see.
   */
  async request(method: string, params: Record<string, unknown> | undefined, options: ForwardOptions = {}): Promise<Result> {
    const timeoutMs = options.timeoutMs ?? this.#options.config.timeout;
    const ctx = options.ctx;
    if (ctx) this.#inflight.push(ctx);
    try {
      if (NO_2026_METHOD.has(method) && (await this.#speaksModernForLegacy())) return await this.#translate(method, params);
      if (this.#options.era === 'modern' && ctx && INPUT_CAPABLE.has(method)) {
        if (SuspendedCalls.continues(ctx)) return await this.#held.continue(method, params, ctx);
        return await this.#held.start(method, params, ctx, (held) => this.#attempt(method, params, ctx, timeoutMs, held));
      }
      const result = await this.#attempt(method, params, ctx, timeoutMs);
      if (this.#options.era === 'modern' || ctx === undefined || !isInputRequired(result)) return result;
      // Only a 2026 upstream answers input_required, and a 2025 client cannot read it: the rounds happen here,
      // inside the one call the pipeline admitted.
      return await fulfilInputRequired(result, {
        upstream: this.name,
        method,
        capabilities: this.#options.capabilities,
        signal: ctx.mcpReq.signal,
        ask: (request) => ctx.mcpReq.send(request, passthrough, { signal: ctx.mcpReq.signal, timeout: RELAY_TIMEOUT_MS }),
        retry: (round: InputRound) => this.#attempt(method, { ...params, ...round }, ctx, timeoutMs),
      });
    } catch (error) {
      throw toDownstreamError(error, this.name, method, timeoutMs, this.#closedBecause);
    } finally {
      if (ctx) this.#inflight.splice(this.#inflight.lastIndexOf(ctx), 1);
    }
  }

  /** Every page of a list (tools/list, resources/list …): `key` names the array in each page. */
  async listAll(method: string, key: string, options: ForwardOptions = {}): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const result = await this.request(method, cursor === undefined ? undefined : { cursor }, options);
      items.push(...(((result as Record<string, unknown>)[key] as Record<string, unknown>[] | undefined) ?? []));
      cursor = (result as { nextCursor?: string }).nextCursor;
      if (cursor === undefined) break;
    }
    return items;
  }

  /** `held` replaces the request's own signal and progress target for a call that may outlive the request. */
  async #attempt(method: string, params: Record<string, unknown> | undefined, ctx: ServerContext | undefined, timeoutMs: number, held?: HeldAttempt) {
    const client = await this.connect();
    try {
      return await this.#send(client, method, params, ctx, timeoutMs, held);
    } catch (error) {
      if (!isSessionExpired(error)) throw error;
      // The upstream forgot our HTTP session (restart, expiry), so it did not process the request: try once more
      // on a new session, which the first of the calls that were in flight on the old one opens.
      await this.#reset(client);
      return await this.#send(await this.connect(), method, params, ctx, timeoutMs, held);
    }
  }

  async #send(client: Client, method: string, params: Record<string, unknown> | undefined, ctx: ServerContext | undefined, timeoutMs: number, held: HeldAttempt | undefined) {
    this.#sending.set(client, (this.#sending.get(client) ?? 0) + 1);
    try {
      return await this.#forward(client, method, params, ctx, timeoutMs, held);
    } finally {
      const left = (this.#sending.get(client) ?? 1) - 1;
      if (left > 0) this.#sending.set(client, left);
      else {
        this.#sending.delete(client);
        // The last call on a retired session has its answer: nothing needs that client any more.
        if (this.#expired.has(client)) void client.close().catch(() => undefined);
      }
    }
  }

  async #forward(client: Client, method: string, params: Record<string, unknown> | undefined, ctx: ServerContext | undefined, timeoutMs: number, held: HeldAttempt | undefined) {
    const { params: stripped, progressToken } = splitProgressToken(params);
    const upstreamParams = withLogLevel(ctx ? withModernMaterial(stripped, ctx) : stripped, this.#options.era === 'legacy' ? this.#logLevel : undefined);
    const relayed: Promise<void>[] = [];
    const headers = ctx ? mirroredParamHeaders(ctx) : undefined;
    // FastPostTransport says which of our requests an upstream question arrived within by the relatedRequestId the
    // request was sent with; the SDK's client transports ignore it.
    const relatedRequestId = this.#nextOrigin++;
    // The upstream client only routes progress for tokens it minted itself, so we let it mint one and put the
    // downstream's own token back on each notification.
    const relay = held
      ? (progress: Record<string, unknown>) => void relayed.push(held.progress(progress))
      : progressToken === undefined || ctx === undefined
        ? undefined
        : (progress: Record<string, unknown>) => {
            relayed.push(ctx.mcpReq.notify({ method: 'notifications/progress', params: { ...progress, progressToken } }).catch(() => undefined));
          };
    const origin = held ?? ctx;
    const silence = new SilenceTimer(timeoutMs, held?.signal ?? ctx?.mcpReq.signal);
    if (origin) this.#origins.set(relatedRequestId, { origin, silence });
    try {
      const result = await client.request({ method, params: upstreamParams }, passthrough, {
        // A 2026 upstream's input_required comes back to us as a value, for the downstream client to fulfil.
        allowInputRequired: true,
        ...(headers ? { headers } : {}),
        relatedRequestId,
        // The silence timer is the timeout: it pauses while the upstream waits on our client, which the SDK's own
        // cannot, so that one is set beyond reach.
        signal: silence.signal,
        timeout: MAX_TIMER_MS,
        onprogress:
          relay &&
          ((progress) => {
            silence.heard();
            relay(progress);
          }),
      });
      // Progress must reach the client before the result does: after the result its stream is gone.
      await Promise.all(relayed);
      return result;
    } finally {
      silence.stop();
      this.#origins.delete(relatedRequestId);
    }
  }

  /** Whether this is a 2025 session's link that speaks 2026 to its upstream (see #translate). */
  async #speaksModernForLegacy(): Promise<boolean> {
    if (this.#options.era !== 'legacy') return false;
    await this.connect();
    return this.#negotiation === MODERN;
  }

  /**
   * 2025 requests the 2026 era dropped: a log level travels on each request instead, and resource subscriptions
   * are a filter of the subscriptions/listen stream.
   */
  async #translate(method: string, params: Record<string, unknown> | undefined): Promise<Result> {
    if (method === 'logging/setLevel') {
      this.#logLevel = String(params?.level);
      return {};
    }
    const uri = params?.uri;
    if (typeof uri !== 'string') throw new ProtocolError(ProtocolErrorCode.InvalidParams, `${method} needs a "uri" string`);
    if (method === 'resources/subscribe') this.#resourceSubscriptions.add(uri);
    else this.#resourceSubscriptions.delete(uri);
    const client = await this.connect();
    await this.#listen(client);
    return {};
  }

  async notify(notification: Notification): Promise<void> {
    const client = this.#client;
    if (client) await client.notification(notification);
  }

  /**
   * Retires a client whose session the upstream forgot. Only the current one: a late 404 from a retired session
   * must not close the new one under the calls already retried on it. Calls still in flight on the old session
   * keep it open until each has the upstream's own answer (a 404 too, retried, or a result): closing it under them
   * would fail calls the upstream may have run with a connection error, which cannot be retried safely.
   */
  async #reset(client: Client): Promise<void> {
    if (this.#client !== client) return;
    this.#options.logger.info({ upstream: this.name }, 'upstream session expired; reconnecting');
    this.#client = undefined;
    this.#retryAt = 0;
    this.#expired.add(client);
    if (!this.#sending.has(client)) await client.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client ?? (await this.#connecting?.catch(() => undefined));
    this.#client = undefined;
    await this.#listening?.close().catch(() => undefined);
    await client?.close().catch(() => undefined);
    const retired = [...this.#sending.keys()].filter((held) => this.#expired.has(held));
    await Promise.all(retired.map((held) => held.close().catch(() => undefined)));
  }

  /**
   * An upstream request (sampling, elicitation, roots) is sent on the stream of the downstream call that caused
   * it. Without that relation it would go to the standalone GET stream, which a client may never open, and be
   * dropped silently (mcp-protocol.md §2.5). An HTTP upstream's request that arrived on the answer stream of one of
   * our requests belongs to that request's call (`relatedId`, from FastPostTransport). Any other (stdio, legacy SSE,
   * the GET stream) says nothing of its call, so it goes with the most recent call in flight, but only while every
   * call outstanding here is one caller's: a modern link serves every 2026 client, and a guess could hand one
   * client's question to another and its answer back. Otherwise the upstream hears that nobody can be asked.
   */
  async #relayRequest(request: JSONRPCRequest, relatedId: RequestId | undefined, signal: AbortSignal): Promise<Result> {
    const outbound = { method: request.method, params: request.params as Record<string, unknown> | undefined };
    const forwarded = relatedId === undefined ? undefined : this.#origins.get(relatedId);
    const origin = forwarded?.origin ?? this.#guessOrigin(request.method);
    if (!origin) {
      const downstream = this.#options.downstream;
      if (downstream) return downstream.request(outbound, signal);
      throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `No downstream client to relay ${request.method} to`);
    }
    // A 2026 client cannot be sent a request: the question goes back in an input_required result instead.
    const asked = 'mcpReq' in origin && this.#options.era === 'modern' ? (this.#held.drivenBy(origin) ?? origin) : origin;
    const answer = 'mcpReq' in asked ? asked.mcpReq.send(outbound, passthrough, { signal, timeout: RELAY_TIMEOUT_MS }) : asked.ask(outbound);
    if (!answer) {
      throw new ProtocolError(
        ProtocolErrorCode.InternalError,
        `Cannot relay ${request.method}: the call it was sent within is held until its client answers what upstream "${this.name}" asked before`,
      );
    }
    // The upstream now waits on our client, for as long as a human takes: neither the request it asked within nor
    // the call the question went to counts that as the upstream's silence.
    const paused = [...this.#origins.values()].filter((f) => f === forwarded || f.origin === asked).map((f) => f.silence.pause());
    try {
      return await answer;
    } finally {
      for (const resume of paused) resume();
    }
  }

  /**
   * The call a request of the upstream's goes with when it does not say: the most recent in flight, unless calls
   * of different clients are outstanding (see #relayRequest).
   */
  #guessOrigin(method: string): ServerContext | undefined {
    const { calls, callers } = this.#outstanding();
    if (callers > 1) {
      throw new ProtocolError(
        ProtocolErrorCode.InternalError,
        `Cannot relay ${method}: Airlock cannot tell which of the ${calls} calls in flight on upstream "${this.name}" it belongs to (they are different clients'); send it on the response stream of the call it belongs to`,
      );
    }
    return this.#inflight.at(-1);
  }

  /** The upstream calls outstanding here (forwarded now, or held for their client to come back) and whose they are. */
  #outstanding(): { calls: number; callers: number } {
    const callers = [...this.#inflight.map(callerOf), ...this.#held.waitingCallers()];
    return { calls: callers.length, callers: new Set(callers).size };
  }

  async #relayNotification(notification: Notification): Promise<void> {
    const related = notification.method === 'notifications/message' ? this.#inflight.at(-1) : undefined;
    // A log message goes with the call it concerns, which it does not name: on the same terms as a request.
    if (related && this.#outstanding().callers > 1) {
      this.#options.logger.debug({ upstream: this.name }, 'log message not relayed: calls of different clients are in flight and it does not say whose it concerns');
      return;
    }
    try {
      if (related) await related.mcpReq.notify(notification);
      else await this.#options.downstream?.notify(notification);
    } catch (error) {
      // A stream that closed or a capability the client lacks: the notification has nowhere to go.
      this.#options.logger.debug({ upstream: this.name, method: notification.method, err: error }, 'notification not relayed');
    }
  }
}

/**
 * `auto` keeps byte fidelity where it can: 2025 sessions start on 2025-11-25 (and move on only when the upstream
 * refuses it, which later sessions then know), 2026 requests let the SDK probe for 2026-07-28 and fall back to 2025.
 */
function initialNegotiation(protocol: UpstreamConfig['protocol'], era: 'legacy' | 'modern', knownModernOnly: boolean): VersionNegotiationOptions {
  if (protocol === '2026-07-28' || (protocol === 'auto' && knownModernOnly)) return MODERN;
  if (protocol === '2025-11-25' || era === 'legacy') return LEGACY;
  return { mode: 'auto' };
}

/**
 * On the 2026 era the SDK lifts wire-level material out of the request before our handler sees it: the client's
 * envelope (capabilities, log level) and the input_required retry fields. The upstream must see them as the
 * downstream client sent them, so they go back on; user `_meta` keys take precedence over the upstream client's
 * own envelope. The protocol version stays the link's own.
 */
function withModernMaterial(params: Record<string, unknown> | undefined, ctx: ServerContext): Record<string, unknown> | undefined {
  const { envelope, inputResponses } = ctx.mcpReq;
  const requestState = ctx.mcpReq.requestState() as string | undefined;
  if (envelope === undefined && inputResponses === undefined && requestState === undefined) return params;
  const forwarded: Record<string, unknown> = { ...envelope };
  delete forwarded['io.modelcontextprotocol/protocolVersion'];
  const meta = { ...forwarded, ...((params?._meta as Record<string, unknown> | undefined) ?? {}) };
  return {
    ...params,
    ...(Object.keys(meta).length > 0 ? { _meta: meta } : {}),
    ...(inputResponses !== undefined ? { inputResponses } : {}),
    ...(requestState !== undefined ? { requestState } : {}),
  };
}

/** Puts a 2025 session's log level on a 2026 request, unless the request names one itself. */
function withLogLevel(params: Record<string, unknown> | undefined, level: string | undefined): Record<string, unknown> | undefined {
  if (level === undefined) return params;
  const meta = (params?._meta as Record<string, unknown> | undefined) ?? {};
  return LOG_LEVEL_META_KEY in meta ? params : { ...params, _meta: { ...meta, [LOG_LEVEL_META_KEY]: level } };
}

/**
 * SEP-2243: a 2026 client mirrors `x-mcp-header` arguments into `Mcp-Param-*` headers, and the upstream checks
 * them against the body. The arguments are forwarded unchanged, so their headers are too.
 */
function mirroredParamHeaders(ctx: ServerContext): Record<string, string> | undefined {
  const incoming = ctx.http?.req;
  if (!incoming) return undefined;
  let mirrored: Record<string, string> | undefined;
  forEachHeader(incoming, (value, name) => {
    if (name.startsWith('mcp-param-')) (mirrored ??= {})[name] = value;
  });
  return mirrored;
}

/** Removes the downstream's progress token from params (the upstream client mints its own). */
export function splitProgressToken(params: Record<string, unknown> | undefined): {
  params: Record<string, unknown> | undefined;
  progressToken: string | number | undefined;
} {
  const meta = params?._meta as Record<string, unknown> | undefined;
  if (!meta || !('progressToken' in meta)) return { params, progressToken: undefined };
  const { progressToken, ...rest } = meta;
  const { _meta: _dropped, ...others } = params as Record<string, unknown>;
  return {
    params: Object.keys(rest).length > 0 ? { ...others, _meta: rest } : others,
    progressToken: progressToken as string | number,
  };
}
