// @ts-check
/**
 * The worker thread that owns the embedded database: it opens PGlite in `workerData.dataDir` and runs the
 * statements `PgliteWorkerDb` sends (pglite-worker-protocol.ts), so PGlite's WASM and its JS allocations live on
 * this thread and heap instead of the gateway's event loop. It knows nothing of locks or error mapping: the data-dir
 * lock and STORAGE_UNAVAILABLE stay with the main thread.
 *
 * Plain JavaScript on purpose: a worker thread gets neither tsx's loader (bin/airlock.js registers it on the main
 * thread only) nor vitest's transform, so a TypeScript entry would need a loader of its own in a checkout and a
 * different file name once built. This file loads as-is from the sources and, emitted by tsc (`allowJs`), from
 * `dist`. `@ts-check` keeps it type-checked against the protocol.
 *
 * @typedef {import('./pglite-worker-protocol.js').WorkerRequest} WorkerRequest
 * @typedef {import('./pglite-worker-protocol.js').WorkerReply} WorkerReply
 * @typedef {import('./pglite-worker-protocol.js').SerializedError} SerializedError
 * @typedef {import('@electric-sql/pglite').Transaction} Transaction
 * @typedef {{ tx: Transaction; decide: (commit: boolean) => void; outcome: Promise<void> }} OpenTransaction
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

// Same value as STARTUP_REPLY_ID in pglite-worker-protocol.ts (this file cannot import TypeScript at run time).
const STARTUP_REPLY_ID = 0;
/** Thrown inside PGlite's transaction callback to make it roll back; never leaves this file. */
const ROLLBACK = Symbol('rollback');

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

/** @type {Map<number, OpenTransaction>} */
const transactions = new Map();

const pglite = await open(/** @type {{ dataDir: string }} */ (workerData).dataDir);
if (pglite) {
  port.on('message', (/** @type {WorkerRequest} */ request) => {
    // handle() must reach PGlite synchronously: PGlite's queue is what keeps the main thread's order.
    handle(pglite, request).then(
      (rows) => reply(rows === undefined ? { id: request.id, ok: true } : { id: request.id, ok: true, rows }),
      (error) => reply({ id: request.id, ok: false, error: serializeError(error) }),
    );
  });
  reply({ id: STARTUP_REPLY_ID, ok: true });
}

/**
 * Reports a failure to open rather than throwing it: a thrown error would reach the main thread without its fields.
 * With nothing listening on the port, the thread then ends by itself.
 * @param {string} dataDir
 */
async function open(dataDir) {
  try {
    return await PGlite.create(dataDir);
  } catch (error) {
    reply({ id: STARTUP_REPLY_ID, ok: false, error: serializeError(error) });
    return undefined;
  }
}

/**
 * @param {PGlite} pglite
 * @param {WorkerRequest} request
 * @returns {Promise<Record<string, unknown>[] | undefined>}
 */
async function handle(pglite, request) {
  switch (request.op) {
    case 'query': {
      const on = request.tx === undefined ? pglite : transactionOf(request.tx).tx;
      return (await on.query(request.sql, /** @type {unknown[] | undefined} */ (request.params))).rows;
    }
    case 'exec': {
      const on = request.tx === undefined ? pglite : transactionOf(request.tx).tx;
      await on.exec(request.sql);
      return undefined;
    }
    case 'begin':
      await begin(pglite, request.tx);
      return undefined;
    case 'commit':
    case 'rollback':
      await end(request.tx, request.op === 'commit');
      return undefined;
    case 'close':
      await pglite.close();
      return undefined;
  }
}

/**
 * Opens a transaction the main thread drives: PGlite's own `transaction()` holds its connection (so other
 * statements queue behind it, as in-thread) until `end()` tells it to commit or roll back.
 * @param {PGlite} pglite
 * @param {number} id
 */
async function begin(pglite, id) {
  /** @type {(tx: Transaction) => void} */
  let opened = () => {};
  /** @type {(commit: boolean) => void} */
  let decide = () => {};
  /** @type {Promise<Transaction>} */
  const begun = new Promise((resolve) => (opened = resolve));
  /** @type {Promise<boolean>} */
  const decided = new Promise((resolve) => (decide = resolve));
  const outcome = pglite.transaction(async (tx) => {
    opened(tx);
    if (!(await decided)) throw ROLLBACK;
  });
  // `outcome` settles first only when BEGIN itself failed; otherwise it waits for the decision.
  const tx = await Promise.race([begun, outcome.then(() => /** @type {never} */ (undefined))]);
  transactions.set(id, { tx, decide, outcome });
}

/**
 * @param {number} id
 * @param {boolean} commit
 */
async function end(id, commit) {
  const open = transactionOf(id);
  transactions.delete(id);
  open.decide(commit);
  try {
    await open.outcome;
  } catch (error) {
    if (error !== ROLLBACK) throw error;
  }
}

/** @param {number} id */
function transactionOf(id) {
  const open = transactions.get(id);
  if (!open) throw new Error(`No open transaction ${id} in the PGlite worker`);
  return open;
}

/** @param {WorkerReply} message */
function reply(message) {
  try {
    port.postMessage(message);
  } catch (error) {
    // Rows are plain data and always clone; an error field might not (a driver option object): send without it.
    const fallback = message.ok ? serializeError(error) : { ...message.error, fields: primitiveFields(message.error.fields) };
    port.postMessage({ id: message.id, ok: false, error: fallback });
  }
}

/**
 * @param {unknown} error
 * @returns {SerializedError}
 */
function serializeError(error) {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  /** @type {Record<string, unknown>} */
  const fields = {};
  for (const [key, value] of Object.entries(error)) if (typeof value !== 'function') fields[key] = value;
  return { name: error.name, message: error.message, fields };
}

/** @param {Record<string, unknown>} fields */
function primitiveFields(fields) {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value === null || typeof value !== 'object'));
}
