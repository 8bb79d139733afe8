/** Test scaffolding: the outbox table as tests read it. */
import type { Db } from '../../db/db.js';

export interface OutboxRow {
  id: number;
  kind: string;
  job_key: string | null;
  payload: unknown;
  run_at: Date;
  attempts: number;
  last_error: string | null;
  done: boolean;
  done_at: Date | null;
}

export function outboxRows(db: Db): Promise<OutboxRow[]> {
  return db.query<OutboxRow>('SELECT * FROM outbox ORDER BY id');
}
