/**
 * Named prepared statements for PGlite. Its `query()` sends Parse, Describe, Bind, Describe and Execute as five
 * separate trips into the WASM backend and plans the statement every time; for the gateway's hot statements (the
 * audit append every 20 ms, an approval decision) that fixed cost was larger than the rows' own. Here a statement
 * is parsed and described once per SQL text, then each run is one trip: Bind, Describe, Execute and Sync, with the
 * plan PostgreSQL caches for the named statement. Values are serialized and rows parsed with PGlite's own type
 * handlers, so results are exactly what `query()` returns; a Uint8Array value is sent in binary format, as it is.
 *
 * Callers hold PGlite's query lock (and, outside a transaction, its transaction lock) around `run`: the protocol
 * methods used here take no lock of their own.
 */
import { type PGlite, parse, protocol } from '@electric-sql/pglite';

import type { Row } from './db.js';

/** Distinct SQL texts kept prepared; statements beyond it run unprepared. The gateway's own statements are far fewer. */
const MAX_PREPARED = 256;

/** PostgreSQL's refusal to run a prepared statement whose result row type changed under it. */
function planChanged(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === '0A000' && typeof message === 'string' && message.includes('cached plan must not change result type');
}

/** Statement names are unique in the process, so two instances on one PGlite (tests) never collide. */
let statementsPrepared = 0;

interface Prepared {
  name: string;
  /** Parameter type OIDs, as the backend inferred them. */
  types: number[];
}

export class PgliteStatements {
  readonly #pglite: PGlite;
  readonly #max: number;
  readonly #prepared = new Map<string, Prepared>();

  constructor(pglite: PGlite, max = MAX_PREPARED) {
    this.#pglite = pglite;
    this.#max = max;
  }

  /** Whether `sql` runs as a prepared statement: any statement with parameters, while there is room. */
  takes(sql: string, params: readonly unknown[] | undefined): boolean {
    return params !== undefined && params.length > 0 && (this.#prepared.has(sql) || this.#prepared.size < this.#max);
  }

  /** Runs `sql`; `inTransaction` defers syncing the file system to the commit, as PGlite's query() does. */
  async run(sql: string, params: readonly unknown[], inTransaction: boolean): Promise<Row[]> {
    try {
      return await this.#execute(sql, params, inTransaction);
    } catch (error) {
      // A table whose columns changed since the statement was prepared (a `t.*` in it now means another row type):
      // prepare it afresh. Outside a transaction at once; inside, the failure aborted it, so from the next run on.
      if (!planChanged(error)) throw error;
      await this.#forget(sql);
      if (inTransaction) throw error;
      return this.#execute(sql, params, inTransaction);
    }
  }

  async #execute(sql: string, params: readonly unknown[], inTransaction: boolean): Promise<Row[]> {
    const statement = this.#prepared.get(sql) ?? (await this.#prepare(sql));
    const { serialize } = protocol;
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      // Bytes go in binary format, as the pg driver sends a Buffer: for text that is its UTF-8, taken as it is.
      if (value instanceof Uint8Array) return value;
      const serializer = this.#pglite.serializers[statement.types[i]!];
      return serializer ? serializer(value) : String(value);
    });
    const { messages } = await this.#pglite.execProtocol(
      concat([serialize.bind({ statement: statement.name, values }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]),
      { syncToFs: !inTransaction },
    );
    return (parse.parseResults(messages, this.#pglite.parsers)[0]?.rows ?? []) as Row[];
  }

  async #forget(sql: string): Promise<void> {
    const statement = this.#prepared.get(sql);
    if (!statement) return;
    this.#prepared.delete(sql);
    await this.#pglite.execProtocol(concat([protocol.serialize.close({ type: 'S', name: statement.name }), protocol.serialize.sync()]), {
      syncToFs: false,
      throwOnError: false,
    });
  }

  async #prepare(sql: string): Promise<Prepared> {
    const { serialize } = protocol;
    statementsPrepared += 1;
    const name = `airlock_${statementsPrepared}`;
    const { messages } = await this.#pglite.execProtocol(
      concat([serialize.parse({ name, text: sql, types: [] }), serialize.describe({ type: 'S', name }), serialize.sync()]),
      { syncToFs: false },
    );
    const prepared = { name, types: parse.parseDescribeStatementResults(messages) };
    this.#prepared.set(sql, prepared);
    return prepared;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
