/**
 * Stopping: the pipeline records an approved call's execution without waiting for it, and the storage closes right
 * after the approval service, so close() is where a recording still under way gets to commit its `executed` row.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

import { AuditLog } from '../audit/audit-log.js';
import type { Db } from '../db/db.js';
import { createLogger } from '../log/logger.js';
import { systemClock } from '../util/clock.js';
import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../../../test/contract/test-databases.js';
import { ApprovalService } from './approval-service.js';
import { heldCall } from './testing/held-call.js';

/** Once holding, keeps every transaction that begins open (after BEGIN, before its statements) until release(). */
class HeldTransactionsDb implements Db {
  readonly dialect;
  begun = 0;
  #gate: Promise<void> | undefined;
  #open: () => void = () => {};
  constructor(readonly inner: Db) {
    this.dialect = inner.dialect;
  }
  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }
  release(): void {
    this.#open();
    this.#gate = undefined;
  }
  query<T>(sql: string, params?: readonly unknown[]) {
    return this.inner.query<T>(sql, params);
  }
  exec(sql: string) {
    return this.inner.exec(sql);
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const gate = this.#gate;
    return this.inner.transaction(async (tx) => {
      this.begun += 1;
      await gate;
      return fn(tx);
    });
  }
  close() {
    return this.inner.close();
  }
}

describe.each(TEST_DIALECTS)('closing the approval service on %s', (dialect) => {
  let database: TestDatabase;
  let db: HeldTransactionsDb | undefined;
  afterEach(async () => {
    // A failed expectation must not leave the transaction, and with it the database, held.
    db?.release();
    await database?.destroy();
  });

  it('waits for an execution being recorded, so its audit row is written before the storage closes', async () => {
    database = await createTestDatabase(dialect);
    db = new HeldTransactionsDb(database.db);
    const service = new ApprovalService({ db, audit: new AuditLog(db), clock: systemClock, logger: createLogger('silent') });
    const { approval } = await service.request(heldCall('ran at the stop'));
    await service.decide(approval.id, { decision: 'approve' }, { id: 'web:alice', via: 'web' });

    const gated = db;
    gated.hold();
    const begun = gated.begun;
    // As the pipeline does it: fired, not awaited.
    void service.recordExecution(approval.id, { ok: true, upstreamStatus: 'ok', durationMs: 7 });
    await vi.waitFor(() => expect(gated.begun).toBe(begun + 1));
    let closed = false;
    const closing = service.close().then(() => (closed = true));
    // A few turns of the timers: a close() that does not wait has resolved by their end.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(closed).toBe(false);

    gated.release();
    await closing;
    const kinds = await database.db.query<{ kind: string }>(`SELECT kind FROM audit_events WHERE approval_id = $1 ORDER BY seq`, [approval.id]);
    expect(kinds.map((row) => row.kind)).toEqual(['approval_requested', 'approved', 'executed']);
  });
});
