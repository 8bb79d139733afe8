/**
 * The 2025-era arm of the HTTP endpoint: one SDK `Server` + `NodeStreamableHTTPServerTransport` per session,
 * kept in a map by `Mcp-Session-Id`. Sessions are stateful on purpose — server→client requests (sampling,
 * elicitation) need a session to come back on (sdk-v2.md §1: the stateless posture breaks them).
 *
 * Owns: session lookup (404 for unknown ids), creation on initialize, idle reaping (which closes the session's
 * upstream links and so its stdio children). Does not own: what a session's server does (the opener builds it).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import { NodeStreamableHTTPServerTransport, type Server } from '../sdk.js';
import { sendJsonRpcError } from './json-rpc-http.js';
import { SessionTransport } from './session-transport.js';

export interface OpenedSession {
  server: Server;
  /** Releases what the session holds upstream (links, child processes). */
  close(): Promise<void>;
}

export type SessionOpener = (view: string, initialize: Record<string, unknown>, sessionId: () => string | undefined) => Promise<OpenedSession>;

interface Session {
  readonly id: string;
  readonly view: string;
  /** The grant that opened the session; another grant's key cannot use it. */
  readonly grant: string | undefined;
  readonly opened: OpenedSession;
  readonly transport: SessionTransport;
  lastSeen: number;
  active: number;
}

export interface LegacySessionsOptions {
  open: SessionOpener;
  idleTimeoutMs: number;
  clock: Clock;
  logger: Logger;
}

export class LegacySessions {
  readonly #sessions = new Map<string, Session>();
  readonly #options: LegacySessionsOptions;

  constructor(options: LegacySessionsOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#sessions.size;
  }

  has(id: string): boolean {
    return this.#sessions.has(id);
  }

  async handle(view: string, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const id = req.headers['mcp-session-id'];
    if (typeof id === 'string') {
      const session = this.#sessions.get(id);
      if (!session || session.view !== view) {
        sendJsonRpcError(res, 404, -32001, `Session not found: ${id} (it expired or was closed; initialize a new session)`);
        return;
      }
      if (session.grant !== grantOf(req)) {
        sendJsonRpcError(res, 403, -32001, 'Forbidden: this session was opened with another API key');
        return;
      }
      return this.#serve(session, req, res, body);
    }
    if (req.method !== 'POST' || !isInitialize(body)) {
      sendJsonRpcError(res, 400, -32000, 'Bad Request: no Mcp-Session-Id header; the first request of a session must be initialize');
      return;
    }
    await this.#create(view, req, res, body);
  }

  async #create(view: string, req: IncomingMessage, res: ServerResponse, body: { params?: unknown }): Promise<void> {
    let sessionId: string | undefined;
    const opened = await this.#options.open(view, (body.params ?? {}) as Record<string, unknown>, () => sessionId);
    const transport: SessionTransport = new SessionTransport(
      new NodeStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessionId = id;
          this.#sessions.set(id, { id, view, grant: grantOf(req), opened, transport, lastSeen: this.#options.clock.now(), active: 0 });
          this.#options.logger.info({ session: id, view }, 'session opened');
        },
        onsessionclosed: (id) => void this.#close(id, 'closed by client'),
      }),
      this.#options.clock,
    );
    transport.onclose = () => {
      if (sessionId !== undefined) void this.#close(sessionId, 'transport closed');
      else void opened.close();
    };
    await opened.server.connect(transport);
    await transport.handleRequest(req, res, body);
    if (sessionId === undefined) await opened.close();
  }

  async #serve(session: Session, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    session.lastSeen = this.#options.clock.now();
    // A POST in flight (a call held for approval, say) keeps its session; an open GET stream alone does not,
    // or a client that forgot its session would hold its upstream children forever.
    if (req.method === 'POST') {
      session.active += 1;
      res.once('close', () => {
        session.active -= 1;
        session.lastSeen = this.#options.clock.now();
      });
    }
    await session.transport.handleRequest(req, res, body);
  }

  async #close(id: string, reason: string): Promise<void> {
    const session = this.#sessions.get(id);
    if (!session) return;
    this.#sessions.delete(id);
    this.#options.logger.info({ session: id, reason }, 'session closed');
    await session.transport.close().catch(() => undefined);
    await session.opened.server.close().catch(() => undefined);
    await session.opened.close();
  }

  /** Closes sessions idle longer than the timeout with nothing in flight. Driven by a timer, testable with a clock. */
  async reapIdle(now = this.#options.clock.now()): Promise<string[]> {
    const idle = [...this.#sessions.values()].filter((s) => s.active === 0 && now - s.lastSeen >= this.#options.idleTimeoutMs);
    await Promise.all(idle.map((s) => this.#close(s.id, 'idle')));
    return idle.map((s) => s.id);
  }

  /** Keeps every session's silent open responses alive (SessionTransport.keepAlive). Driven by a timer. */
  keepAlive(now = this.#options.clock.now()): void {
    for (const session of this.#sessions.values()) session.transport.keepAlive(now);
  }

  /** Sends a notification to every open session (the policy changed what tools/list shows, say). */
  async broadcast(notification: { method: string; params?: Record<string, unknown> }): Promise<void> {
    await Promise.all([...this.#sessions.values()].map((s) => s.opened.server.notification(notification).catch(() => undefined)));
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#sessions.keys()].map((id) => this.#close(id, 'gateway shutting down')));
  }
}

function grantOf(req: IncomingMessage): string | undefined {
  return (req as IncomingMessage & { auth?: { clientId?: string } }).auth?.clientId;
}

function isInitialize(body: unknown): body is { method: 'initialize'; params?: unknown } {
  return typeof body === 'object' && body !== null && (body as { method?: unknown }).method === 'initialize';
}
