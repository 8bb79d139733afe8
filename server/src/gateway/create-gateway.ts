/**
 * The composition root: the one place that reads the config and wires upstream links, routers, the pipeline
 * and the HTTP endpoints together. Nothing else constructs these parts.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';

import type { RequestHandler } from 'express';
import type { AddressInfo } from 'node:net';

import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { ApprovalService } from '../approval/approval-service.js';
import type { AuditLog } from '../audit/audit-log.js';
import { approvalStage } from '../pipeline/approval-stage.js';
import { auditObserver } from '../pipeline/audit-observer.js';
import { auditGateStage } from '../pipeline/audit-gate-stage.js';
import { allObservers } from '../pipeline/run-pipeline.js';
import type { Metrics } from '../metrics/metrics.js';
import { metricsObserver } from '../metrics/metrics-observer.js';
import { ToolAnnotationsCache, type ToolAnnotations } from '../route/tool-annotations.js';
import { buildStages } from '../pipeline/stages.js';
import { limitsStage } from '../pipeline/limits-stage.js';
import { policyStage, type PolicySource } from '../pipeline/policy-stage.js';
import type { LimitStore } from '../limits/limit-store.js';
import { MemoryLimitStore } from '../limits/memory-limit-store.js';
import { isHidden } from '../policy/index.js';
import { callerFromAuth } from './grant-auth.js';
import { createAggregateRouter } from '../proxy/aggregate-router.js';
import { buildDownstreamServer, GATEWAY_INFO } from '../proxy/downstream/build-server.js';
import { mergeCapabilities, relayableClientCapabilities, singleCapabilities } from '../proxy/downstream/capabilities.js';
import { LegacySessions, type SessionOpener } from '../proxy/downstream/legacy-sessions.js';
import { LegacySseSessions } from '../proxy/downstream/legacy-sse.js';
import { createModernArm, type ModernHandler } from '../proxy/downstream/modern-arm.js';
import { ParamHeaderCache } from '../proxy/downstream/param-header-cache.js';
import { KEEP_ALIVE_SWEEP_MS } from '../proxy/downstream/session-transport.js';
import { paramHeaderLookup } from '../proxy/param-header-lookup.js';
import { RoundStates } from '../proxy/round-states.js';
import type { Router } from '../proxy/router.js';
import { passthrough, type ClientCapabilities, type Server, type ServerCapabilities } from '../proxy/sdk.js';
import { createSingleRouter } from '../proxy/single-router.js';
import type { ToolCallDeps } from '../proxy/tool-calls.js';
import { HeldStateSeal } from '../proxy/upstream/held-state.js';
import { type DownstreamPeer, UpstreamLink } from '../proxy/upstream/upstream-link.js';
import { parseByteSize } from '../util/byte-size.js';
import { type Clock, systemClock } from '../util/clock.js';
import { createHttpApp } from './http-app.js';
import { createApiAuth } from '../api/api-auth.js';
import { attachApprovalStream, type ApprovalStream } from '../api/approval-stream.js';
import { createApiRouter } from '../api/approvals-routes.js';
import { createConsole } from '../console/create-console.js';
import { readCatalog } from '../console/upstream-tools.js';
import type { Db } from '../db/db.js';

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  clock?: Clock;
  /** The policy in force; without one every call is allowed. */
  policy?: PolicySource;
  limitStore?: LimitStore;
  /** Holds calls that need a human; without it such calls are refused. */
  approvals?: ApprovalService;
  audit?: AuditLog;
  /** AIRLOCK_ADMIN_TOKEN: bearer access to /api and /api/stream for automation. */
  adminToken?: string;
  /** Extra HTTP handlers mounted before the MCP routes (the Slack app's /slack/events). */
  routes?: RequestHandler[];
  /** Dependency checks behind /readyz (database, Redis). */
  readiness?: Record<string, () => Promise<unknown>>;
  metrics?: Metrics;
  /** The review console (sign-in, pages, audit and policy API); needs `approvals`. */
  console?: { db: Db; /** the built pages; default: the installation's web/dist */ webDir?: string };
  /**
   * The 32-byte key sealing the requestState Airlock hands 2026 clients: of held calls, and of a 2026 upstream's
   * input rounds. Instances that share it (and, for held calls, know each other's `listen.internalUrl`) continue
   * each other's calls; without one, a random key serves this process only.
   */
  heldStateKey?: Buffer;
}

export interface Gateway {
  readonly sessions: LegacySessions;
  /** Tells connected clients to list tools again (after a policy change, say). */
  toolsChanged(): Promise<void>;
  /** What the upstream declared about a tool in the lists agents received (hints for approvers). */
  toolAnnotations(server: string, tool: string): ToolAnnotations | undefined;
  listen(): Promise<{ url: string; port: number }>;
  close(): Promise<void>;
  /** Builds a downstream server for one stdio client (`airlock run`), on the given view. */
  openStdioServer(view: string, era: 'legacy' | 'modern', clientCapabilities?: ClientCapabilities): Promise<Server>;
}

/** '' is the aggregated view (`/mcp`); any other name is one upstream (`/mcp/<name>`). */
const AGGREGATE_VIEW = '';
const EVERY_INTERFACE = ['0.0.0.0', '::', ''];

export function createGateway(options: GatewayOptions): Gateway {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const serverNames = Object.keys(config.servers);
  const policy = options.policy;
  const approvals = options.approvals;
  const annotations = new ToolAnnotationsCache();
  const stateKey = options.heldStateKey ?? randomBytes(32);
  const heldStates = new HeldStateSeal(stateKey);
  const policyVersion = () => policy?.current()?.version;
  const approval = approvals
    ? approvalStage({
        service: approvals,
        policyVersion: () => policyVersion() ?? 'none',
        syncCapMs: config.approvals.syncCap,
        heartbeatMs: config.approvals.heartbeat,
        consoleUrl: config.console?.url,
        logger,
        metrics: options.metrics,
        toolAnnotations: (server, tool) => annotations.get(server, tool),
      })
    : undefined;
  const deps: ToolCallDeps = {
    stages: buildStages({
      auditGate: options.audit ? auditGateStage(options.audit, logger) : undefined,
      policy: policy ? policyStage(policy) : undefined,
      limits: options.limitStore ? limitsStage(options.limitStore, { failOpen: config.limits.failOpen, logger, metrics: options.metrics }) : undefined,
      approval,
      limitStore: options.limitStore,
    }),
    approvalAvailable: approvals !== undefined,
    observer: allObservers([
      options.audit ? auditObserver({ audit: options.audit, approvals, policyVersion, logger }) : undefined,
      options.metrics ? metricsObserver(options.metrics) : undefined,
    ]),
    annotations,
    paramHeaders: new ParamHeaderCache(clock),
    // Each round state is claimed once where limits are counted, so every instance sees the claim (in Redis when
    // scaled); a gateway without limits claims in its own memory.
    rounds: new RoundStates(stateKey, clock, options.limitStore ?? new MemoryLimitStore({ clock })),
    // tools/list and tools/call ask the same policy, so a listed tool is never answered as unknown.
    isVisible: (server, tool) => {
      const current = policy?.current();
      return current === undefined || !isHidden(current, server, tool);
    },
  };
  /** Last capabilities seen per upstream, so a session opened while an upstream is down still advertises it. */
  const knownCapabilities = new Map<string, ServerCapabilities>();
  const modernOnly = new Set<string>();

  function viewServers(view: string): string[] {
    return view === AGGREGATE_VIEW ? serverNames : [view];
  }

  function createLinks(
    view: string,
    era: 'legacy' | 'modern',
    capabilities: ClientCapabilities,
    downstream?: DownstreamPeer,
  ): Map<string, UpstreamLink> {
    return new Map(
      viewServers(view).map((name) => [
        name,
        new UpstreamLink({
          name,
          config: config.servers[name]!,
          capabilities,
          era,
          clientInfo: GATEWAY_INFO,
          connectTimeoutMs: config.upstreams.connectTimeout,
          clock,
          logger,
          downstream,
          modernOnly,
          heldStates,
        }),
      ]),
    );
  }

  /** Connects every link, tolerating dead ones, and returns what the downstream server should advertise. */
  async function connectAll(view: string, links: ReadonlyMap<string, UpstreamLink>): Promise<{ capabilities: ServerCapabilities; instructions?: string }> {
    await Promise.all(
      [...links.values()].map((link) =>
        link.connect().then(
          () => knownCapabilities.set(link.name, link.serverCapabilities ?? {}),
          (error: Error) => logger.warn({ upstream: link.name, err: error.message }, 'upstream unavailable'),
        ),
      ),
    );
    const caps = [...links.keys()].map((name) => knownCapabilities.get(name));
    const instructions = [...links.values()]
      .filter((link) => link.instructions)
      .map((link) => (view === AGGREGATE_VIEW ? `## ${link.name}\n${link.instructions}` : link.instructions))
      .join('\n\n');
    return {
      capabilities: view === AGGREGATE_VIEW ? mergeCapabilities(caps) : singleCapabilities(caps[0]),
      instructions: instructions === '' ? undefined : instructions,
    };
  }

  function createRouter(view: string, links: ReadonlyMap<string, UpstreamLink>): Router {
    return view === AGGREGATE_VIEW ? createAggregateRouter(links, deps, logger) : createSingleRouter(links.get(view)!, deps);
  }

  async function openServer(view: string, links: Map<string, UpstreamLink>, local = false): Promise<Server> {
    const { capabilities, instructions } = await connectAll(view, links);
    return buildDownstreamServer(createRouter(view, links), {
      capabilities,
      instructions,
      caller: (ctx) => (local ? { grant: 'local', ...(ctx.sessionId ? { session: ctx.sessionId } : {}) } : callerFromAuth(ctx.http?.authInfo, ctx.sessionId)),
    });
  }

  /** A peer that reaches the downstream client of one session, for upstream messages not tied to a call. */
  function peerOf(server: () => Server | undefined): DownstreamPeer {
    return {
      request: async (request, signal) => {
        const target = server();
        if (!target) throw new Error('downstream not connected');
        return target.request(request, passthrough, { signal, timeout: 10 * 60_000 });
      },
      notify: async (notification) => {
        await server()?.notification(notification);
      },
    };
  }

  const openSession: SessionOpener = async (view, initialize) => {
    let server: Server | undefined;
    const links = createLinks(view, 'legacy', relayableClientCapabilities(initialize.capabilities as ClientCapabilities), peerOf(() => server));
    server = await openServer(view, links);
    return { server, close: () => closeLinks(links) };
  };
  const sessions = new LegacySessions({ idleTimeoutMs: config.sessions.idleTimeout, clock, logger, open: openSession });
  const sseSessions = new LegacySseSessions(openSession, logger);

  // The 2026 era has no sessions: one set of links per view, shared by every request. Each request carries its
  // client's capabilities in its envelope, which the link passes upstream; input_required rounds travel back as
  // results, so nothing is ever sent to these clients outside a request.
  const sharedLinks = new Map<string, Map<string, UpstreamLink>>();
  const modernArms = new Map<string, ModernHandler>();
  function modernArm(view: string): ModernHandler {
    let arm = modernArms.get(view);
    if (!arm) {
      const links = createLinks(view, 'modern', {});
      sharedLinks.set(view, links);
      arm = createModernArm(() => openServer(view, links), {
        maxRequestBodySize: parseByteSize(config.sessions.maxRequestBody),
        onerror: (error) => logger.debug({ err: error.message }, 'modern request error'),
        paramHeaderRules: paramHeaderLookup(links, deps, { aggregated: view === AGGREGATE_VIEW, logger }),
      });
      modernArms.set(view, arm);
    }
    return arm;
  }

  // The console's policy page lists every upstream's tools over links of its own, opened on first use.
  let catalogLinks: Map<string, UpstreamLink> | undefined;
  const reviewConsole =
    options.console && approvals
      ? createConsole({
          db: options.console.db,
          webDir: options.console.webDir,
          clock,
          logger,
          adminToken: options.adminToken,
          consoleUrl: config.console?.url,
          policy,
          catalogs: () => {
            catalogLinks ??= createLinks(AGGREGATE_VIEW, 'legacy', {});
            return Promise.all([...catalogLinks.values()].map(readCatalog));
          },
        })
      : undefined;
  const apiAuth = createApiAuth({ adminToken: options.adminToken, sessions: reviewConsole?.sessions });
  const listener = createHttpApp({
    config,
    logger,
    views: new Set([AGGREGATE_VIEW, ...serverNames]),
    sessions,
    sseSessions,
    modernArm,
    api: approvals ? createApiRouter({ desk: approvals, auth: apiAuth, logger }) : undefined,
    consoleApi: reviewConsole?.api(apiAuth),
    consolePages: reviewConsole?.pages,
    routes: options.routes ?? [],
    readiness: options.readiness ?? {},
    metrics: options.metrics,
    holderElsewhere: (body) => heldStates.holderElsewhere(body),
  });
  let stream: ApprovalStream | undefined;

  let http: HttpServer | undefined;
  let reaper: NodeJS.Timeout | undefined;
  let keeper: NodeJS.Timeout | undefined;

  return {
    sessions,
    toolAnnotations: (server, tool) => annotations.get(server, tool),
    async toolsChanged() {
      await sessions.broadcast({ method: 'notifications/tools/list_changed' });
    },
    async listen() {
      http = await new Promise<HttpServer>((resolve, reject) => {
        // A deep accept queue: agents arrive in bursts, and a dropped connection is reset by the kernel.
        const server = createServer(listener).listen({ port: config.listen.port, host: config.listen.host, backlog: 4096 }, () => resolve(server));
        server.once('error', reject);
      });
      // Long approval waits must not be cut by Node's own request timeout; SSE keep-alives keep proxies happy.
      http.requestTimeout = 0;
      if (approvals) stream = attachApprovalStream(http, { desk: approvals, auth: apiAuth, logger });
      const every = Math.max(1000, Math.min(60_000, config.sessions.idleTimeout / 2));
      reaper = setInterval(() => void sessions.reapIdle(), every);
      reaper.unref();
      // Every second, so each sweep writes only the comments of calls that went silent within one second (about
      // 200 with 10,000 calls held at 200 new ones a second), and a silent response hears from us after 15–16 s.
      keeper = setInterval(() => sessions.keepAlive(), KEEP_ALIVE_SWEEP_MS);
      keeper.unref();
      const { port } = http.address() as AddressInfo;
      const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
      const url = `http://${host}:${port}`;
      // Peers cannot reach a bind on every interface at its own address; such an instance names itself only in config.
      heldStates.holder = config.listen.internalUrl ?? (EVERY_INTERFACE.includes(config.listen.host) ? undefined : url);
      return { url, port };
    },
    async close() {
      clearInterval(reaper);
      clearInterval(keeper);
      // Held calls are answered first, so that closing their sessions below does not cancel their approvals.
      await approval?.release();
      // Their answers leave through the SDK in the microtasks that follow.
      await new Promise((resolve) => setImmediate(resolve));
      await stream?.close();
      await sessions.closeAll();
      await sseSessions.closeAll();
      await Promise.all([...sharedLinks.values(), ...(catalogLinks ? [catalogLinks] : [])].map(closeLinks));
      if (http) {
        http.closeAllConnections();
        await new Promise<void>((resolve) => http!.close(() => resolve()));
      }
    },
    async openStdioServer(view, era, clientCapabilities) {
      let server: Server | undefined;
      const links = createLinks(view, era, era === 'legacy' ? relayableClientCapabilities(clientCapabilities) : {}, peerOf(() => server));
      server = await openServer(view, links, true);
      const previous = server.onclose;
      server.onclose = () => {
        previous?.();
        void closeLinks(links);
      };
      return server;
    },
  };
}

async function closeLinks(links: ReadonlyMap<string, UpstreamLink>): Promise<void> {
  await Promise.all([...links.values()].map((link) => link.close()));
}
