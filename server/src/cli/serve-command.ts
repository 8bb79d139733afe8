import { createSlackApp, resolveSlackSettings, type SlackApp } from '../../../slack-app/src/index.js';
import type { PreparedAuditEvent } from '../audit/audit-event.js';
import { loadConfigFile } from '../config/load.js';
import { resolveRedisUrl } from '../config/redis-url.js';
import { issueSetupToken, setupUrl } from '../console/setup-link.js';
import { AirlockError } from '../errors/airlock-error.js';
import { createGateway, type Gateway } from '../gateway/create-gateway.js';
import { openStorage } from '../gateway/open-storage.js';
import { createEventBus } from '../bus/create-event-bus.js';
import { createReadiness } from '../gateway/readiness.js';
import { createJobQueue } from '../jobs/create-job-queue.js';
import { instrumentQueue } from '../metrics/instrument-queue.js';
import { createMetrics } from '../metrics/metrics.js';
import { createLimitStore } from '../limits/create-limit-store.js';
import { createLogger } from '../log/logger.js';
import { PolicyWatcher } from '../policy/policy-watcher.js';
import { systemClock } from '../util/clock.js';
import { CONFIG_OPTION, parseCommandLine, type CliIo } from './command.js';

/**
 * `airlock serve`: the composition of everything a running gateway has — storage, policy, limits, approvals,
 * Slack — until SIGINT/SIGTERM, then it stops taking calls, answers the calls it held, abandons their approvals,
 * closes sessions and upstreams, and flushes the audit log before exiting.
 */
export async function runServe(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandLine(argv, CONFIG_OPTION);
  const config = await loadConfigFile(values.config ?? 'airlock.config.json');
  let slackSettings;
  try {
    slackSettings = resolveSlackSettings(config.slack);
  } catch (error) {
    throw new AirlockError('CONFIG_INVALID', (error as Error).message);
  }
  const logger = createLogger();
  let gateway: Gateway | undefined;
  const policy = config.policy === undefined ? undefined : await PolicyWatcher.open(config.policy, logger, () => void gateway?.toolsChanged());
  // A Redis turns on the scaled parts: decisions fan out over Redis, jobs run on BullMQ, limits live in Redis.
  // One Redis may serve several deployments (or test runs): AIRLOCK_REDIS_PREFIX keeps their keys apart.
  const redisUrl = resolveRedisUrl(config);
  const redisPrefix = process.env.AIRLOCK_REDIS_PREFIX || 'airlock';
  const bus = createEventBus({ redisUrl, logger, channelPrefix: `${redisPrefix}:` });
  const metrics = createMetrics();
  const queue = instrumentQueue(createJobQueue({ redisUrl, logger, prefix: redisPrefix }), metrics);
  const storage = await openStorage(config, logger, systemClock, { bus, queue });
  const limitStore = createLimitStore({ redisUrl, keyPrefix: `${redisPrefix}:limits:` });
  storage.approvals.subscribe(({ type, approval }) => {
    if (type === 'decided' && approval.decidedAt) {
      metrics.approvalDecided(approval.status, (Date.parse(approval.decidedAt) - Date.parse(approval.requestedAt)) / 1000);
    }
  });
  const readiness = createReadiness(storage.db, redisUrl, storage.audit);
  metrics.observeAuditBacklog(() => storage.audit.buffered);
  const slack: SlackApp | undefined = slackSettings
    ? createSlackApp({
        desk: storage.approvals,
        queue,
        ...slackSettings,
        consoleUrl: config.console?.url ?? `http://${config.listen.host}:${config.listen.port}`,
        logger,
        toolAnnotations: (server, tool) => gateway?.toolAnnotations(server, tool),
      })
    : undefined;
  gateway = createGateway({
    config,
    logger,
    policy,
    limitStore,
    approvals: storage.approvals,
    audit: storage.audit,
    heldStateKey: storage.heldStateKey,
    adminToken: process.env.AIRLOCK_ADMIN_TOKEN,
    routes: slack?.requestListener ? [slack.requestListener] : [],
    console: { db: storage.db },
    readiness: readiness.checks,
    metrics,
  });
  const { url } = await gateway.listen();
  await slack?.start();
  io.stderr(`airlock: listening on ${url}/mcp (servers: ${Object.keys(config.servers).join(', ') || 'none'}); review console at ${url}/`);
  // The first admin: with AIRLOCK_ADMIN_TOKEN set, `admin` signs in with the token; otherwise a one-time link.
  const setupToken = process.env.AIRLOCK_ADMIN_TOKEN ? undefined : await issueSetupToken(storage.db, systemClock);
  if (setupToken) {
    io.stderr(`airlock: no console admin exists yet; create one with this link (works once, within 24 h): ${setupUrl(config.console?.url ?? url, setupToken)}`);
  }
  logger.info({ url, servers: Object.keys(config.servers), policy: config.policy, database: storage.db.dialect, slack: slack !== undefined }, 'airlock listening');
  const stop = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    let status = 0;
    try {
      policy?.close();
      await gateway?.close();
      // Best effort: with the database away they stay pending, decidable, and expire by their rule.
      const abandoned = await storage.approvals.abandonHeld().catch((error: Error) => {
        logger.error({ err: error.message }, 'could not abandon the approvals of the calls held until the stop');
        return 0;
      });
      if (abandoned > 0) logger.warn({ abandoned }, 'approvals of calls held until the stop are now abandoned; a decision still applies to the retry');
      await slack?.stop();
      // Its outbox relay hands jobs to the queue, so the approval service stops first; rows it leaves wait in the
      // database for the next start or another instance.
      await storage.approvals.close();
      await queue.close();
      await limitStore.close();
      await storage.close();
      await bus.close();
      await readiness.close();
    } catch (error) {
      status = 1;
      io.stderr(`airlock: shutting down: ${(error as Error).message}`);
      reportUnwritten(storage.audit.unwritten(), io);
    }
    logger.flush();
    process.exit(status);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  return 0;
}

/**
 * Audit events the database did not take before exit (it was unreachable) go to stderr, one JSON object a line,
 * redacted as the log would have stored them: the operator's logs keep what the audit table could not.
 */
function reportUnwritten(events: readonly PreparedAuditEvent[], io: CliIo): void {
  if (events.length === 0) return;
  io.stderr(`airlock: ${events.length} audit event${events.length === 1 ? '' : 's'} could not be stored before exit; they follow, one JSON object a line:`);
  for (const event of events) io.stderr(JSON.stringify(event));
}
