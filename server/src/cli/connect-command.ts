import { StdioHttpBridge } from '../bridge/stdio-http-bridge.js';
import { createLogger } from '../log/logger.js';
import { StdioServerTransport } from '../proxy/sdk.js';
import { stopOnStdioEnd, type CliIo } from './command.js';

/**
 * `airlock connect <url>`: the agent launches us as its server and we speak to a running gateway for it (see
 * StdioHttpBridge). The grant's key comes from AIRLOCK_KEY, so it stays out of the agent's command line.
 */
export async function runConnect(argv: string[], io: CliIo): Promise<number> {
  const [target, ...extra] = argv;
  let url: URL | undefined;
  try {
    url = target === undefined ? undefined : new URL(target);
  } catch {
    url = undefined;
  }
  if (url === undefined || !/^https?:$/.test(url.protocol) || extra.length > 0) {
    io.stderr(`airlock connect: give the gateway's MCP URL, e.g. airlock connect http://127.0.0.1:8787/mcp${target === undefined ? '' : ` (got "${argv.join(' ')}")`}`);
    return 2;
  }
  const key = process.env.AIRLOCK_KEY;
  const logger = createLogger(process.env.AIRLOCK_LOG_LEVEL ?? 'warn');
  const bridge = new StdioHttpBridge(new StdioServerTransport(), { url, headers: key ? { authorization: `Bearer ${key}` } : {}, logger });
  const stop = async () => {
    await bridge.close();
    process.exit(0);
  };
  stopOnStdioEnd(stop);
  await bridge.start();
  return 0;
}
