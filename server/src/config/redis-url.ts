/**
 * The Redis this process uses (DESIGN.md §6): `REDIS_URL` over the config file's `redis.url`, as DATABASE_URL is
 * over `database.url`. One is needed by the bus, the job queue, the limit store, readiness and the storage's idea of
 * being one of several instances, so it is resolved here once and handed to each; none of them reads the
 * environment itself. Blank counts as unset; unset keeps every one of them in this process.
 */
import { nonBlank } from '../util/non-blank.js';
import type { Config } from './schema.js';

export function resolveRedisUrl(config: Pick<Config, 'redis'>, env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  return nonBlank(env.REDIS_URL) ?? nonBlank(config.redis?.url);
}
