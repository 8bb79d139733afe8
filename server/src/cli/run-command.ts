import { parseConfig } from '../config/load.js';
import { resolveRedisUrl } from '../config/redis-url.js';
import { createGateway } from '../gateway/create-gateway.js';
import { createLogger } from '../log/logger.js';
import { createLimitStore } from '../limits/create-limit-store.js';
import { PolicyWatcher } from '../policy/policy-watcher.js';
import { stdioWire } from '../proxy/downstream/stdio-wire.js';
import { serveStdio } from '../proxy/sdk.js';
import { parseCommandLine, stopOnStdioEnd, UsageError, type CliIo } from './command.js';

/**
 * `airlock run [--policy p] -- <command…>`: the stdio wrapper. The agent launches us as if we were the server;
 * stdout carries nothing but the protocol, all logs go to stderr.
 */
export async function runStdioWrapper(argv: string[], io: CliIo): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash === -1 ? argv : argv.slice(0, dash);
  const upstream = dash === -1 ? [] : argv.slice(dash + 1);
  const [command, ...args] = upstream;
  const { values } = parseCommandLine(own, { policy: { type: 'string' }, name: { type: 'string' } });
  if (command === undefined) throw new UsageError('give the upstream command after "--", e.g. airlock run -- npx some-mcp-server');
  const name = values.name ?? 'upstream';
  const config = parseConfig({ servers: { [name]: { command, args } }, policy: values.policy }, 'airlock run arguments');
  // A relative --policy is relative to where the agent started us.
  const logger = createLogger(process.env.AIRLOCK_LOG_LEVEL ?? 'warn');
  // Said once, on stderr (stdout is the protocol's): without a policy the wrapper guards nothing.
  if (config.policy === undefined) io.stderr('airlock run: no --policy given, so every tool call is allowed');
  const policy = config.policy === undefined ? undefined : await PolicyWatcher.open(config.policy, logger);
  const limitStore = createLimitStore({ redisUrl: resolveRedisUrl(config) });
  const gateway = createGateway({ config, logger, policy, limitStore });
  const wire = stdioWire();
  const handle = serveStdio(({ era }) => gateway.openStdioServer(name, era, wire.declaredCapabilities()), {
    transport: wire.transport,
    onerror: (error) => logger.debug({ err: error.message }, 'stdio error'),
  });
  const stop = async () => {
    policy?.close();
    await handle.close();
    await gateway.close();
    await limitStore.close();
    process.exit(0);
  };
  stopOnStdioEnd(stop);
  return 0;
}
