/**
 * Opens what the approval path persists to — the database (migrated), the audit log and the approval service —
 * and recovers what a previous process left: approvals whose waiting calls died with it become `abandoned`.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

import { ApprovalService } from '../approval/approval-service.js';
import { AuditLog } from '../audit/audit-log.js';
import type { EventBus } from '../bus/event-bus.js';
import type { JobQueue } from '../jobs/job-queue.js';
import type { Config } from '../config/schema.js';
import { resolveRedisUrl } from '../config/redis-url.js';
import { createDb } from '../db/create-db.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { sharedKey } from '../db/shared-keys.js';
import { AirlockError } from '../errors/airlock-error.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';

export interface Storage {
  db: Db;
  audit: AuditLog;
  approvals: ApprovalService;
  /** Seals the requestState of held calls alike on every instance of this database (GatewayOptions.heldStateKey). */
  heldStateKey: Buffer;
  /**
   * Stops the approval service's background work (if not yet), flushes the audit log and closes the database;
   * rejects when the flush fails, with the events still in `audit.unwritten()`.
   */
  close(): Promise<void>;
}

export async function openStorage(config: Config, logger: Logger, clock: Clock, background: { bus?: EventBus; queue?: JobQueue } = {}): Promise<Storage> {
  const db = await createDb({ database: config.database });
  const migrated = await migrate(db);
  if (migrated.error) {
    await db.close();
    throw new AirlockError('STORAGE_UNAVAILABLE', `database migration failed: ${migrated.error.message}`, { cause: migrated.error });
  }
  const audit = new AuditLog(db, {
    keepArgValues: config.approvals.keepArgValues,
    maxBacklog: config.audit.maxBacklog,
    clock,
    onWriteError: (error, buffered) => logger.error({ err: error.message, buffered }, 'audit write failed; events kept and retried'),
  });
  const stableId = process.env.AIRLOCK_INSTANCE_ID || undefined;
  const approvals = new ApprovalService({
    db,
    audit,
    clock,
    logger,
    groups: config.groups,
    grantOwners: Object.fromEntries(config.grants.map((grant) => [grant.name, grant.owners])),
    // Unique per process start, and per storage when one process runs several gateways (tests, benchmarks).
    instanceId: stableId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    bus: background.bus,
    queue: background.queue,
  });
  await approvals.start();
  // Alone on its database, every pending approval was held by this gateway's previous process. Scaled (a Redis:
  // several instances share the database), only its own: AIRLOCK_INSTANCE_ID names an instance across restarts.
  const scaled = resolveRedisUrl(config) !== undefined;
  if (scaled && stableId === undefined) {
    logger.warn('several instances share this database: set AIRLOCK_INSTANCE_ID so that after a crash a restarted instance can release the approvals it held (a graceful stop releases them itself)');
  } else {
    const abandoned = await approvals.recover(scaled ? { owner: stableId } : {});
    if (abandoned > 0) logger.warn({ abandoned }, 'approvals held by a previous process are now abandoned; a decision still applies to the retry');
  }
  return {
    db,
    audit,
    approvals,
    heldStateKey: await sharedKey(db, 'held-state'),
    async close() {
      try {
        await approvals.close();
        await audit.close();
      } finally {
        // Even when the last audit write failed: PGlite's lock on its directory goes with the handle.
        await db.close();
      }
    },
  };
}
