/**
 * `Db` on PGlite (PostgreSQL compiled to WASM) in a local directory: the embedded mode, one process, no server.
 * PGlite runs in a worker thread (pglite-worker.js) so its WASM calls and its garbage stay off the gateway's event
 * loop and heap; this class is the main thread's side: it owns the data-dir lock, sends each statement to the
 * worker and maps failures to the `Db` contract.
 *
 * PGlite has a single connection: statements and transactions queue behind each other in the worker, in the
 * order they were called here, so advisory locks are uncontended and `FOR UPDATE` never waits. A transaction
 * stays open in the worker while its callback runs here; statements outside it wait for it to end.
 */
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';

import { AirlockError } from '../errors/airlock-error.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import type { Db, Row } from './db.js';
import { STARTUP_REPLY_ID, toError, type WorkerReply, type WorkerRequest } from './pglite-worker-protocol.js';
import { toStorageError } from './storage-error.js';
import { TransactionDb } from './transaction-db.js';

// The database files live one level down so the lock file and anything else Airlock keeps in the data directory
// never mix with PostgreSQL's own files.
const PGDATA = 'pgdata';

// Beside this module both in the sources (tsx, vitest) and in dist (tsc emits it): see the worker's header.
const WORKER_ENTRY = new URL('./pglite-worker.js', import.meta.url);

/** A request before #send numbers it (`Omit` applied to each member of the union). */
type WithoutId<R> = R extends unknown ? Omit<R, 'id'> : never;
type RequestBody = WithoutId<WorkerRequest>;

/** Opens (creating on first use) the embedded database in `dataDir`, refusing if another process holds it. */
export async function openPgliteWorkerDb(dataDir: string): Promise<PgliteWorkerDb> {
  const dir = resolve(dataDir);
  const lock = await acquireDataDirLock(dir);
  const target = `Embedded database in ${dir}`;
  try {
    return new PgliteWorkerDb(await startPgliteWorker(join(dir, PGDATA)), lock, target);
  } catch (error) {
    await lock.release();
    throw toStorageError(error, target);
  }
}

/** Starts the worker on `pgdata` and resolves once PGlite is open in it; rejects (worker stopped) if it cannot. */
export async function startPgliteWorker(pgdata: string): Promise<Worker> {
  // No execArgv: the worker needs no Node option, and some of the parent's would break it (`--input-type` of a
  // `node -e` script, `--import tsx` loading a TypeScript loader for nothing).
  const worker = new Worker(WORKER_ENTRY, { workerData: { dataDir: pgdata }, execArgv: [] });
  let onMessage: (reply: WorkerReply) => void = () => {};
  let onError: (error: Error) => void = () => {};
  let onExit: (code: number) => void = () => {};
  try {
    await new Promise<void>((started, failed) => {
      onMessage = (reply) => {
        if (reply.id !== STARTUP_REPLY_ID) failed(new Error(`the PGlite worker answered request ${reply.id} before starting`));
        else if (reply.ok) started();
        else failed(toError(reply.error));
      };
      onError = failed;
      onExit = (code) => failed(new Error(`the PGlite worker exited with code ${code} while opening`));
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
  } catch (error) {
    await worker.terminate();
    throw error;
  } finally {
    // Only our own listeners: Worker keeps its port running through listeners of its own (removeAllListeners
    // would stop the port for good).
    worker.off('message', onMessage).off('error', onError).off('exit', onExit);
  }
  return worker;
}

export class PgliteWorkerDb implements Db {
  readonly dialect = 'pglite' as const;
  readonly #worker: Worker;
  readonly #lock: DataDirLock;
  readonly #target: string;
  readonly #pending = new Map<number, (reply: WorkerReply) => void>();
  #nextRequest = 1;
  #nextTransaction = 1;
  #closing: Promise<void> | undefined;
  /** Why the worker is gone, once it is: every pending and later call fails with it. */
  #stopped: string | undefined;

  /** Takes over a started worker (`startPgliteWorker`) and the lock on its directory. */
  constructor(worker: Worker, lock: DataDirLock, target: string) {
    this.#worker = worker;
    this.#lock = lock;
    this.#target = target;
    worker.on('message', (reply: WorkerReply) => this.#settle(reply));
    worker.on('error', (error) => this.#stop(`its worker thread failed: ${error.message}`));
    // A reply that cannot be read would leave its caller waiting forever: give up on the worker instead.
    worker.on('messageerror', (error) => {
      this.#stop(`a reply from its worker thread could not be read: ${error.message}`);
      void worker.terminate();
    });
    worker.on('exit', (code) => this.#stop(`its worker thread exited with code ${code}`));
    // Idle, the worker does not keep the process alive (as an in-thread PGlite would not); see #send.
    worker.unref();
  }

  async query<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return (await this.#call({ op: 'query', sql, params, tx: undefined })) as T[];
  }

  async exec(sql: string): Promise<void> {
    await this.#call({ op: 'exec', sql, tx: undefined });
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const id = this.#nextTransaction++;
    await this.#call({ op: 'begin', tx: id });
    const tx = new TransactionDb('pglite', {
      query: async (sql, params) => (await this.#call({ op: 'query', sql, params, tx: id })) ?? [],
      exec: async (sql) => {
        await this.#call({ op: 'exec', sql, tx: id });
      },
    });
    let result: T;
    try {
      result = await fn(tx);
    } catch (error) {
      tx.end();
      // What the callback threw goes back untouched, unless rolling back failed too (as in PGlite's own transaction).
      await this.#call({ op: 'rollback', tx: id });
      throw error;
    }
    tx.end();
    await this.#call({ op: 'commit', tx: id });
    return result;
  }

  /** Waits for what was called before it (PGlite's close does), stops the worker and frees the directory. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        const reply = await this.#send({ op: 'close' });
        // A worker that already stopped has nothing left to close.
        if (!reply.ok && this.#stopped === undefined) throw toStorageError(toError(reply.error), this.#target);
      } finally {
        await this.#worker.terminate();
        await this.#lock.release();
      }
    })();
    return this.#closing;
  }

  /** Sends one request and returns its rows, or throws the driver's error mapped as the contract says. */
  async #call(request: RequestBody): Promise<Row[] | undefined> {
    const reply = await this.#send(request);
    if (reply.ok) return reply.rows;
    throw toStorageError(toError(reply.error), this.#target);
  }

  #send(request: RequestBody): Promise<WorkerReply> {
    const id = this.#nextRequest++;
    // After close() nothing new starts; statements of a transaction already open still run (close waits for it).
    const startsSomething = request.op === 'begin' || ((request.op === 'query' || request.op === 'exec') && request.tx === undefined);
    if (this.#closing && startsSomething) return Promise.resolve(failure(id, 'the database is closed'));
    if (this.#stopped !== undefined) return Promise.resolve(failure(id, this.#stopped));
    try {
      this.#worker.postMessage({ ...request, id } satisfies WorkerRequest);
    } catch (error) {
      // A parameter the structured clone cannot copy (a function, a class with private state): the caller's bug.
      return Promise.reject(new AirlockError('INTERNAL', `Cannot send a statement to the PGlite worker: ${(error as Error).message}`, { cause: error }));
    }
    // Only while a reply is awaited does the worker keep the process alive, so `await db.query()` at the top
    // level of a command finishes instead of exiting early.
    if (this.#pending.size === 0) this.#worker.ref();
    return new Promise((resolve) => this.#pending.set(id, resolve));
  }

  #settle(reply: WorkerReply): void {
    const resolve = this.#pending.get(reply.id);
    if (!resolve) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker.unref();
    resolve(reply);
  }

  #stop(reason: string): void {
    if (this.#stopped !== undefined) return;
    this.#stopped = reason;
    for (const [id, resolve] of this.#pending) resolve(failure(id, reason));
    this.#pending.clear();
  }
}

/** A reply standing for the worker: no SQLSTATE, so `toStorageError` makes it STORAGE_UNAVAILABLE. */
function failure(id: number, reason: string): WorkerReply {
  return { id, ok: false, error: { name: 'Error', message: reason, fields: {} } };
}
