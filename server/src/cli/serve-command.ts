import { loadConfigFile } from '../config/load.js';
import { createGateway } from '../gateway/create-gateway.js';
import { createLogger } from '../log/logger.js';
import { readFlags } from './args.js';
import type { CliIo } from './main.js';

/** `airlock serve`: runs until SIGINT/SIGTERM, then closes sessions and upstreams before exiting. */
export async function runServe(argv: string[], io: CliIo): Promise<number> {
  const { flags } = readFlags(argv);
  const configPath = flags.get('config') ?? 'airlock.config.json';
  const config = await loadConfigFile(configPath);
  const logger = createLogger();
  const gateway = createGateway({ config, logger });
  const { url } = await gateway.listen();
  io.stderr(`airlock: listening on ${url}/mcp (servers: ${Object.keys(config.servers).join(', ') || 'none'})`);
  logger.info({ url, servers: Object.keys(config.servers) }, 'airlock listening');
  const stop = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    await gateway.close();
    logger.flush();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  return 0;
}
