/**
 * The deprecated HTTP+SSE transport (2024-11-05) for old clients: `GET /sse` opens the stream and names a
 * `POST /messages?sessionId=…` endpoint. A session lives as long as its GET stream; there is nothing to reap.
 * Such clients cannot tell us their capabilities before the session exists, so upstreams are offered sampling,
 * elicitation and roots, and a client that lacks one answers the relayed request with an error.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { SSEServerTransport } from '@modelcontextprotocol/server-legacy/sse';

import type { Logger } from '../../log/logger.js';
import { sendJsonRpcError } from './json-rpc-http.js';
import type { OpenedSession, SessionOpener } from './legacy-sessions.js';

export const SSE_MESSAGES_PATH = '/messages';

export class LegacySseSessions {
  readonly #sessions = new Map<string, { transport: SSEServerTransport; opened: OpenedSession }>();

  constructor(
    private readonly open: SessionOpener,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.#sessions.size;
  }

  async connect(view: string, res: ServerResponse): Promise<void> {
    const transport = new SSEServerTransport(SSE_MESSAGES_PATH, res);
    const everything = { capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } } };
    // Opening connects every upstream (spawning stdio children, for up to the connect timeout), and the transport
    // hears of the stream closing only once started: a client that leaves meanwhile must be noticed here.
    let left = false;
    const leave = () => (left = true);
    res.once('close', leave);
    const opened = await this.open(view, everything, () => transport.sessionId).finally(() => res.off('close', leave));
    if (left) {
      await opened.close();
      this.logger.debug({ view, transport: 'sse' }, 'client left while its session was opening; closed it');
      return;
    }
    this.#sessions.set(transport.sessionId, { transport, opened });
    transport.onclose = () => void this.#close(transport.sessionId);
    await opened.server.connect(transport);
    this.logger.info({ session: transport.sessionId, view, transport: 'sse' }, 'session opened');
  }

  async post(req: IncomingMessage, res: ServerResponse, body: unknown, sessionId: string | undefined): Promise<void> {
    const session = sessionId === undefined ? undefined : this.#sessions.get(sessionId);
    if (!session) {
      sendJsonRpcError(res, 404, -32001, `Session not found: ${sessionId ?? '(no sessionId query parameter)'}`);
      return;
    }
    await session.transport.handlePostMessage(req, res, body);
  }

  async #close(id: string): Promise<void> {
    const session = this.#sessions.get(id);
    if (!session) return;
    this.#sessions.delete(id);
    await session.opened.server.close().catch(() => undefined);
    await session.opened.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#sessions.values()].map((s) => s.transport.close().catch(() => undefined)));
    await Promise.all([...this.#sessions.keys()].map((id) => this.#close(id)));
  }
}
