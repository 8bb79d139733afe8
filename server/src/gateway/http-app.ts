/**
 * The HTTP surface: `/mcp` and `/mcp/<server>` (both protocol eras on one URL), health endpoints, and JSON
 * errors for what never reaches an MCP server (bad JSON, oversized bodies, unknown servers).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';

import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { FORWARDED_HEADER, forwardToHolder } from '../proxy/downstream/forward-to-holder.js';
import { sendJsonRpcError, sendParseError } from '../proxy/downstream/json-rpc-http.js';
import type { LegacySessions } from '../proxy/downstream/legacy-sessions.js';
import { type LegacySseSessions, SSE_MESSAGES_PATH } from '../proxy/downstream/legacy-sse.js';
import type { ModernHandler } from '../proxy/downstream/modern-arm.js';
import { isLegacyRequest, toWebRequest } from '../proxy/sdk.js';
import type { Metrics } from '../metrics/metrics.js';
import { parseByteSize } from '../util/byte-size.js';
import { dnsRebindingProtection, hostAndOriginAllowed } from './dns-rebinding.js';
import { grantAuth } from './grant-auth.js';
import { sessionPostLane } from './session-post-lane.js';

export interface HttpAppOptions {
  config: Config;
  logger: Logger;
  views: ReadonlySet<string>;
  sessions: LegacySessions;
  sseSessions: LegacySseSessions;
  modernArm(view: string): ModernHandler;
  /** The console's REST API, mounted at /api when approvals are on. */
  api?: Router;
  /** The review console's own routes under /api (sign-in, audit, policy), tried before `api`. */
  consoleApi?: Router;
  /** The review console's pages, tried after every other route. */
  consolePages?: Router;
  /** Mounted before any body parser: the Slack app verifies signatures over the raw body. */
  routes: RequestHandler[];
  /** Named dependency checks for /readyz (database, Redis); each rejects when its dependency is unreachable. */
  readiness: Record<string, () => Promise<unknown>>;
  metrics?: Metrics;
  /** The instance holding the call a 2026 request continues, when another instance holds it (held-state.ts). */
  holderElsewhere(body: unknown): string | undefined;
}

/** The gateway's request listener: the session POST lane first, the Express app for everything else. */
export function createHttpApp(options: HttpAppOptions): RequestListener {
  const { config, logger, sessions } = options;
  const app = express();
  app.disable('x-powered-by');
  const guards = dnsRebindingProtection(config.listen);
  if (guards.length > 0) app.use(guards);
  else logger.warn({ host: config.listen.host }, 'listening beyond localhost without listen.allowedHosts: no DNS-rebinding protection');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Ready only while every dependency answers: a load balancer then stops sending calls that would fail.
  app.get('/readyz', async (_req, res) => {
    const checks = await Promise.all(
      Object.entries(options.readiness).map(async ([name, check]) => {
        try {
          await check();
          return [name, 'ok'] as const;
        } catch (error) {
          return [name, (error as Error).message] as const;
        }
      }),
    );
    const failing = checks.filter(([, status]) => status !== 'ok');
    res.status(failing.length === 0 ? 200 : 503).json({ status: failing.length === 0 ? 'ready' : 'unavailable', sessions: sessions.size, checks: Object.fromEntries(checks) });
  });
  if (options.metrics) {
    const registry = options.metrics.registry;
    app.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
  }

  const mcp = async (req: IncomingMessage, res: ServerResponse, view: string, body: unknown) => {
    if (!options.views.has(view)) {
      sendJsonRpcError(res, 404, -32601, `No upstream server named "${view}" (configured: ${[...options.views].filter(Boolean).join(', ')})`);
      return;
    }
    try {
      // A known session id is the hot path: skip the era classification, which builds a web Request.
      const sessionId = req.headers['mcp-session-id'];
      const legacy = typeof sessionId === 'string' || (await isLegacyRequest(await toWebRequest(req, body), body));
      if (legacy) await sessions.handle(view, req, res, body);
      else await modern(req, res, view, body);
    } catch (error) {
      logger.error({ err: error, view }, 'request failed');
      sendJsonRpcError(res, 500, -32603, `Internal error: ${(error as Error).message}`);
    }
  };
  /** A 2026 request: served here, unless it continues a call another instance holds, which then answers it. */
  const modern = async (req: IncomingMessage, res: ServerResponse, view: string, body: unknown) => {
    const holder = req.headers[FORWARDED_HEADER] === undefined ? options.holderElsewhere(body) : undefined;
    if (holder === undefined) await options.modernArm(view)(req, res, body);
    else await forwardToHolder(req, res, body, holder, logger);
  };
  for (const route of options.routes) app.use(route);
  // The API parses its own bodies, with its own limit and error shape.
  if (options.consoleApi) app.use('/api', options.consoleApi);
  if (options.api) app.use('/api', options.api);

  const authenticate = grantAuth(config.grants);
  app.use(['/mcp', '/sse', SSE_MESSAGES_PATH], authenticate, express.json({ limit: config.sessions.maxRequestBody }));

  // The 2024-11-05 HTTP+SSE transport, for clients that predate Streamable HTTP.
  const sse = async (res: Response, view: string) => {
    if (!options.views.has(view)) {
      sendJsonRpcError(res, 404, -32601, `No upstream server named "${view}"`);
      return;
    }
    await options.sseSessions.connect(view, res);
  };
  app.get('/sse', (_req, res) => sse(res, ''));
  app.get('/sse/:server', (req, res) => sse(res, req.params.server ?? ''));
  app.post(SSE_MESSAGES_PATH, (req, res) =>
    options.sseSessions.post(req, res, req.body, typeof req.query.sessionId === 'string' ? req.query.sessionId : undefined),
  );

  app.all('/mcp', (req, res) => mcp(req, res, '', req.body));
  app.all('/mcp/:server', (req, res) => mcp(req, res, req.params.server ?? '', req.body));
  if (options.consolePages) app.use(options.consolePages);

  // Body parser failures arrive here: answer them in JSON-RPC terms, naming the problem.
  app.use((error: Error & { type?: string; status?: number; limit?: number }, _req: Request, res: Response, _next: NextFunction) => {
    if (error.type === 'entity.too.large') {
      sendJsonRpcError(res, 413, -32600, `Request body too large: the limit is ${config.sessions.maxRequestBody} (sessions.maxRequestBody)`);
    } else if (error.type === 'entity.parse.failed') {
      sendParseError(res, error.message);
    } else {
      logger.error({ err: error }, 'http error');
      sendJsonRpcError(res, error.status ?? 500, -32603, `Internal error: ${error.message}`);
    }
  });

  const lane = sessionPostLane({
    isOpenSession: (id) => sessions.has(id),
    hostAndOriginAllowed: hostAndOriginAllowed(config.listen),
    authenticate(req, res) {
      let known = false;
      authenticate(req as Request, res as Response, () => {
        known = true;
      });
      return known;
    },
    maxBodyBytes: parseByteSize(config.sessions.maxRequestBody),
    serve: mcp,
  });
  return (req, res) => {
    if (!lane(req, res)) app(req, res);
  };
}
