/**
 * Dependency checks for /readyz: the database answers a trivial query, Redis answers PING, and the audit log is
 * not refusing calls for its backlog. Each check fails fast (no retries, no offline queue) so a load balancer
 * learns within a second that this instance cannot serve.
 */
import { Redis } from 'ioredis';

import type { AuditLog } from '../audit/audit-log.js';
import type { Db } from '../db/db.js';

export interface Readiness {
  checks: Record<string, () => Promise<unknown>>;
  close(): Promise<void>;
}

export function createReadiness(db: Db, redisUrl: string | undefined, audit?: Pick<AuditLog, 'full' | 'maxBacklog'>): Readiness {
  const redis = redisUrl
    ? new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 1000, commandTimeout: 1000 })
    : undefined;
  // A failed connection is reported by the check; ioredis would otherwise print it as an unhandled error. Its
  // own rejection only says "Connection is closed.", so the check names the server and the connection's error.
  let lastError: Error | undefined;
  redis?.on('error', (error: Error) => (lastError = error));
  return {
    checks: {
      database: () => db.query('SELECT 1'),
      ...(audit
        ? {
            audit: async () => {
              if (audit.full) throw new Error(`tool calls are refused: ${audit.maxBacklog} audit events wait to be written (audit.maxBacklog)`);
              return 'ok';
            },
          }
        : {}),
      ...(redis
        ? {
            redis: async () => {
              try {
                if (redis.status === 'wait' || redis.status === 'end') await redis.connect();
                return await redis.ping();
              } catch (error) {
                throw new Error(`Redis at ${describeRedis(redisUrl!)} is unreachable: ${(lastError ?? (error as Error)).message}`);
              }
            },
          }
        : {}),
    },
    async close() {
      redis?.disconnect();
    },
  };
}

/** `host:port` of a Redis URL, for messages: a password in the URL stays out of them. */
function describeRedis(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return 'REDIS_URL or redis.url (not a valid URL)';
  }
}
