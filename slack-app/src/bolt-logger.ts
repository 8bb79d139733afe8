/** Bolt and the Slack Web API log through the gateway's pino logger, not to the console. */
import { type Logger as BoltLogger, LogLevel } from '@slack/bolt';

import type { Logger } from '../../server/src/log/logger.js';

export function boltLogger(logger: Logger): BoltLogger {
  const log = logger.child({ component: 'slack' });
  const write = (level: 'debug' | 'info' | 'warn' | 'error') => (...parts: unknown[]) => {
    const err = parts.find((part) => part instanceof Error);
    const text = parts
      .filter((part) => part !== err)
      .map((part) => (typeof part === 'string' ? part : JSON.stringify(part)))
      .join(' ');
    if (err) log[level]({ err }, text);
    else log[level](text);
  };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    // The operator sets the level for the whole gateway (AIRLOCK_LOG_LEVEL); Bolt may not change it.
    setLevel: () => {},
    getLevel: () => {
      const level = log.levelVal;
      if (level <= 20) return LogLevel.DEBUG;
      if (level <= 30) return LogLevel.INFO;
      if (level <= 40) return LogLevel.WARN;
      return LogLevel.ERROR;
    },
    setName: () => {},
  };
}
