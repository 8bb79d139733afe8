import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The one pino root. Logs always go to stderr: under the stdio downstream, stdout carries JSON-RPC and
 * nothing else.
 */
export function createLogger(level = process.env.AIRLOCK_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'airlock', level, base: undefined }, pino.destination({ fd: 2, sync: false }));
}
