/** What every `airlock` command shares: where it writes, how a bad command line is told apart, its database. */
import { createDb } from '../db/create-db.js';
import type { Db } from '../db/db.js';

/** Results go to stdout, problems to stderr (under `airlock run`, stdout is the protocol's alone). */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** A command line the command cannot understand: printed with its usage, exit status 2. */
export class UsageError extends Error {}

/** Runs `fn` on a database opened for this one command (from the environment unless a test gives one), then closes it. */
export async function withDb<T>(openDb: (() => Promise<Db>) | undefined, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await (openDb ?? (() => createDb()))();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}
