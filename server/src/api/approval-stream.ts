/**
 * The live feed of approvals at `/api/stream` (DESIGN.md §6): a websocket that greets each client with the pending
 * queue and then relays every desk event as it happens, so consoles never poll. Owns the upgrade, its
 * authentication and the connection lifecycle; other upgrade paths on the same server are left to their owners.
 */
import { type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

import { WebSocket, WebSocketServer } from 'ws';

import type { Approval, ApprovalDesk, ApprovalEvent } from '../approval/approval.js';
import { asAirlockError } from '../errors/airlock-error.js';
import type { Logger } from '../log/logger.js';
import type { ApiAuth, Authentication } from './api-auth.js';
import { apiErrorBody, type ApiErrorCode } from './api-errors.js';

/** What the server sends; the client sends nothing but pongs. `pending` is the queue: every open approval. */
export type StreamMessage = { type: 'hello'; pending: Approval[] } | { type: ApprovalEvent['type']; approval: Approval };

type Admitted = Authentication & { ok: true };

/** Browsers cannot set headers on a websocket, so the admin token may come as the subprotocol `bearer.<token>`. */
const BEARER_PROTOCOL_PREFIX = 'bearer.';

export interface ApprovalStreamOptions {
  desk: Pick<ApprovalDesk, 'list' | 'subscribe'>;
  auth: ApiAuth;
  path?: string;
  /**
   * How often to ping; a client that has not answered the previous ping by the next one is dropped, and one whose
   * console session has ended is closed.
   */
  pingIntervalMs?: number;
  logger?: Logger | undefined;
}

export interface ApprovalStream {
  /** Stops accepting upgrades, drops every client and unsubscribes from the desk. */
  close(): Promise<void>;
}

export function attachApprovalStream(server: Server, options: ApprovalStreamOptions): ApprovalStream {
  const { desk, auth, logger } = options;
  const path = options.path ?? '/api/stream';
  const wss = new WebSocketServer({
    noServer: true,
    // Clients have nothing to say; a small cap keeps a misbehaving one from making us buffer.
    maxPayload: 4096,
    handleProtocols: chooseProtocol,
  });
  const alive = new WeakSet<WebSocket>();

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== path) return;
    // Until ws owns the socket, a reset by the peer would otherwise be an unhandled 'error'.
    const swallow = (error: Error) => logger?.debug({ err: error }, 'stream upgrade socket error');
    socket.on('error', swallow);
    admit(req)
      .then((admission) => {
        if (!admission.ok) {
          refuse(socket, admission.status, admission.code, admission.message);
          return;
        }
        socket.off('error', swallow);
        wss.handleUpgrade(req, socket, head, (ws) => connect(ws, req, admission.admitted));
      })
      .catch((thrown: unknown) => {
        const error = asAirlockError(thrown);
        logger?.error({ err: thrown }, 'stream upgrade failed');
        refuse(socket, error.httpStatus, error.code, error.code === 'INTERNAL' ? 'Internal error; the gateway log has the details' : error.message);
      });
  };

  const admit = async (
    req: IncomingMessage,
  ): Promise<{ ok: true; admitted: Admitted } | { ok: false; status: number; code: ApiErrorCode; message: string }> => {
    const result = await auth.authenticate(req, bearerFromProtocols(req));
    if (!result.ok) return { ok: false, status: 401, code: 'UNAUTHORIZED', message: result.message };
    // A cookie rides along on a websocket opened by any site; only our own page may read the queue with it.
    if (result.method === 'session' && !sameOrigin(req)) {
      return { ok: false, status: 403, code: 'FORBIDDEN', message: 'Cross-origin websocket refused: the Origin header does not match the Host' };
    }
    return { ok: true, admitted: result };
  };

  // How each open socket got in, so the ping timer can ask whether that still holds.
  const admissions = new WeakMap<WebSocket, { req: IncomingMessage; admitted: Admitted }>();
  const recheck = (ws: WebSocket) => {
    const admission = admissions.get(ws);
    if (!admission) return;
    auth.stillAuthenticated(admission.req, admission.admitted).then(
      (still) => {
        // 1008, policy violation: the console then asks /api/session, gets its 401 and goes to sign-in.
        if (!still) ws.close(1008, 'The console session ended; sign in again');
      },
      // Kept open: with the database away nobody can be checked, and the next tick asks again.
      (error: unknown) => logger?.warn({ err: error }, 'stream could not recheck a console session'),
    );
  };

  const connect = (ws: WebSocket, req: IncomingMessage, admitted: Admitted) => {
    admissions.set(ws, { req, admitted });
    alive.add(ws);
    ws.on('pong', () => alive.add(ws));
    ws.on('error', (error) => logger?.debug({ err: error }, 'stream socket error'));
    // Subscribe before reading the queue and hold events until the hello is out: an approval that changes while
    // the list is read is then neither lost nor announced before the snapshot it would update.
    let held: ApprovalEvent[] | undefined = [];
    const send = (message: StreamMessage) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
    };
    const unsubscribe = desk.subscribe((event) => {
      if (held) held.push(event);
      else send({ type: event.type, approval: event.approval });
    });
    ws.on('close', unsubscribe);
    desk.list({ status: 'open' }).then(
      (pending) => {
        send({ type: 'hello', pending });
        for (const event of held ?? []) send({ type: event.type, approval: event.approval });
        held = undefined;
      },
      (error: unknown) => {
        logger?.error({ err: error }, 'stream could not read the queue');
        // 1011: the server hit a condition that kept it from serving the request; the console reconnects.
        ws.close(1011, 'Could not read the pending approvals');
      },
    );
  };

  // One timer for all clients: ping, drop those that missed the previous ping (dead peers, half-open TCP), and
  // close those whose console session has ended since (the REST API refuses it at once; a socket would stream on).
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
      recheck(ws);
    }
  }, options.pingIntervalMs ?? 30_000);
  pinger.unref();

  server.on('upgrade', onUpgrade);

  return {
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(pinger);
        server.off('upgrade', onUpgrade);
        // terminate, not close: a close handshake waits up to 30 s on a dead peer. Each 'close' unsubscribes.
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** The token from a `bearer.<token>` subprotocol, if the client offered one. */
function bearerFromProtocols(req: IncomingMessage): string | undefined {
  const offered = req.headers['sec-websocket-protocol']?.split(',').map((protocol) => protocol.trim()) ?? [];
  return offered.find((protocol) => protocol.startsWith(BEARER_PROTOCOL_PREFIX))?.slice(BEARER_PROTOCOL_PREFIX.length);
}

/**
 * Browsers fail the handshake unless the server picks one of the offered subprotocols. Prefer one that is not the
 * token (a console offers `['airlock', 'bearer.<token>']`), so the secret is not echoed back.
 */
function chooseProtocol(offered: Set<string>): string | false {
  const protocols = [...offered];
  return protocols.find((protocol) => !protocol.startsWith(BEARER_PROTOCOL_PREFIX)) ?? protocols[0] ?? false;
}

function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || req.headers.host === undefined) return false;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** Answers on the raw socket: there is no ServerResponse for an upgrade request. */
function refuse(socket: Duplex, status: number, code: ApiErrorCode, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(apiErrorBody(code, message));
  const headers = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(status === 401 ? ['WWW-Authenticate: Bearer realm="airlock"'] : []),
  ];
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
  socket.once('finish', () => socket.destroy());
}
