/**
 * SQL for the audit log, on either driver: chained appends, ordered reads for verify and export, and the
 * console's filtered, keyset-paged listing. Buffering and retries are audit-log.ts's; hashing rules are
 * hash-chain.ts's.
 */
import { AirlockError } from '../errors/airlock-error.js';
import type { Db } from '../db/db.js';
import { canonicalJson, type JsonObject } from '../util/canonical-json.js';
import { auditColumns, type AuditColumns, type AuditRecord, type PreparedAuditEvent } from './audit-event.js';
import { chainHash } from './hash-chain.js';

/** One link of the chain as stored and exported. */
export interface ChainRow {
  seq: number;
  prevHash: string;
  hash: string;
  canonical: string;
}

/** A stored row with its filter columns, which verify compares with the canonical record. */
export interface StoredChainRow extends ChainRow, Omit<AuditColumns, 'ts'> {
  ts: Date;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

// The largest bigint: a seq bound that excludes nothing, for time ranges that reach past the last row.
const MAX_SEQ = '9223372036854775807';

// Rows of one statement: a batch larger than this is written in a transaction, a statement at a time.
const ROWS_PER_INSERT = 500;
const COLUMNS = 'seq, ts, kind, server, tool, grant_name, agent, approval_id, actor, canonical, prev_hash, hash';
const COLUMN_TYPES = ['bigint', 'timestamptz', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'lines', 'lines', 'lines'] as const;
/**
 * The rows go in as one array per column: the statement's text and its 12 parameters are the same for any number
 * of rows, which PostgreSQL parses and plans in about half the time of a VALUES list with 12 parameters a row.
 * The canonical records and the hashes, the bulk of the bytes, go as one text of lines each instead of an array
 * literal (which the drivers escape quote by quote), encoded to UTF-8 here so that pg and PGlite's prepared
 * statements send the bytes as they are (PGlite's own encoder walks the string a character at a time in
 * JavaScript; its unprepared query() reads the Buffer back as the same text). Neither holds a raw line feed: JSON
 * escapes it, and a hash is hex.
 */
function unnestColumns(offset: number): string {
  const column = (type: (typeof COLUMN_TYPES)[number], slot: number) =>
    type === 'lines' ? `string_to_array($${slot}::text, chr(10))` : `$${slot}::${type}[]`;
  return `unnest(${COLUMN_TYPES.map((type, i) => column(type, offset + i + 1)).join(', ')})`;
}
const SELECT_ROW = `SELECT seq, ts, kind, server, tool, grant_name, agent, approval_id, actor, canonical,
  prev_hash AS "prevHash", hash FROM audit_events`;

/**
 * The last link as an appender last saw it; `ts` in epoch ms (−Infinity before the first row). An AuditLog keeps
 * it between appends so that the next one is a single statement.
 */
export interface ChainTip {
  seq: number;
  hash: string;
  ts: number;
}

/** What an append wrote, and the tip it left (committed once the caller's transaction commits). */
export interface Appended {
  links: ChainRow[];
  tip: ChainTip;
}

/**
 * Appends events in order, atomically. With the tip the caller last saw, that is one statement (see appendGated);
 * otherwise, or when the tip is stale, one transaction (a savepoint when `db` is already a transaction) that locks
 * the chain head row first. The lock serializes appenders, across processes too, so each row links to the one
 * committed before it and the chain never forks.
 */
export async function appendAuditEvents(db: Db, events: readonly PreparedAuditEvent[], tip?: ChainTip): Promise<Appended> {
  return (tip && (await appendOntoTip(db, events, tip))) || db.transaction((tx) => appendLocked(tx, events));
}

/**
 * The append inside a transaction the caller holds, which commits or rolls back as a whole (the approval service's
 * decisions): no savepoint of its own. Callers should append last: the head stays locked until they commit.
 */
export async function appendWithinTransaction(tx: Db, events: readonly PreparedAuditEvent[], tip?: ChainTip): Promise<Appended> {
  return (tip && (await appendOntoTip(tx, events, tip))) || appendLocked(tx, events);
}

async function appendOntoTip(db: Db, events: readonly PreparedAuditEvent[], tip: ChainTip): Promise<Appended | undefined> {
  const gated = await appendGated(db, undefined, events, tip);
  return gated?.appended;
}

/**
 * A change whose audit rows are written in the same statement: an UPDATE … RETURNING (parameters from $1) that
 * the append follows only when it returns a row. The decision path is then one round trip.
 */
export interface AppendGate {
  sql: string;
  params: readonly unknown[];
}

/**
 * Chains the rows onto `tip` and writes them in one statement that also moves the head, on condition that the head
 * is still that tip (and, with a gate, that the gate changed a row): the decision path pays one round trip instead
 * of three. When the tip is stale (another process appended, or the transaction that left it rolled back) nothing
 * is appended and `appended` is undefined, so a stale tip costs one statement and never forks the chain; the gate's
 * change stands though, so a caller with a gate runs this in a transaction and rolls back when it sees that.
 * Undefined when the events cannot go in one statement.
 */
export async function appendGated<R>(
  db: Db,
  gate: AppendGate | undefined,
  events: readonly PreparedAuditEvent[],
  tip: ChainTip,
): Promise<{ gateRows: R[]; appended: Appended | undefined } | undefined> {
  if (events.length === 0 || events.length > ROWS_PER_INSERT) return undefined;
  const chained = chainOnto(tip, events);
  const gateParams = gate?.params ?? [];
  const n = gateParams.length;
  const columns = columnArrays(chained.rows);
  const rows = await db.query<R & { appended_rows: number }>(
    `WITH gate AS (${gate?.sql ?? 'SELECT'}),
     head AS (
       UPDATE audit_chain_head SET seq = $${n + 1}, hash = $${n + 2}, ts = $${n + 3}::timestamptz
       WHERE id = 1 AND seq = $${n + 4} AND hash = $${n + 5} AND EXISTS (SELECT FROM gate) RETURNING id),
     appended AS (
       INSERT INTO audit_events (${COLUMNS})
       SELECT * FROM ${unnestColumns(n + 5)} AS appended (${COLUMNS}) WHERE EXISTS (SELECT FROM head)
       RETURNING seq)
     SELECT gate.*, (SELECT count(*) FROM appended)::int AS appended_rows FROM gate`,
    [...gateParams, chained.tip.seq, chained.tip.hash, new Date(chained.tip.ts).toISOString(), tip.seq, tip.hash, ...columns],
  );
  const appended = rows[0]?.appended_rows === events.length ? { links: chained.rows.map((row) => row.link), tip: chained.tip } : undefined;
  return { gateRows: rows.map(({ appended_rows: _, ...row }) => row as unknown as R), appended };
}

async function appendLocked(tx: Db, events: readonly PreparedAuditEvent[]): Promise<Appended> {
  const chained = chainOnto(await readChainTip(tx, 'FOR UPDATE'), events);
  for (let start = 0; start < chained.rows.length; start += ROWS_PER_INSERT) {
    await tx.query(`INSERT INTO audit_events (${COLUMNS}) SELECT * FROM ${unnestColumns(0)}`, columnArrays(chained.rows.slice(start, start + ROWS_PER_INSERT)));
  }
  await tx.query('UPDATE audit_chain_head SET seq = $1, hash = $2, ts = $3::timestamptz WHERE id = 1', [
    chained.tip.seq,
    chained.tip.hash,
    new Date(chained.tip.ts).toISOString(),
  ]);
  return { links: chained.rows.map((row) => row.link), tip: chained.tip };
}

interface ChainedRow {
  link: ChainRow;
  columns: AuditColumns;
}

/** Numbers, times and hashes the rows after `tip`: the pure part of an append. */
function chainOnto(tip: ChainTip, events: readonly PreparedAuditEvent[]): { rows: ChainedRow[]; tip: ChainTip } {
  let { seq, hash: prevHash, ts: lastTs } = tip;
  const rows = events.map((event): ChainedRow => {
    seq += 1;
    const occurred = Date.parse(event.occurredAt);
    lastTs = Math.max(occurred, lastTs);
    const ts = new Date(lastTs).toISOString();
    // occurredAt stays only when it differs from ts; canonical JSON leaves out undefined members. Object.assign,
    // not a spread: see validateAuditEvent.
    const record: AuditRecord = Object.assign({}, event, { seq, ts, occurredAt: lastTs === occurred ? undefined : event.occurredAt });
    const canonical = canonicalJson(record as unknown as JsonObject);
    const link: ChainRow = { seq, prevHash, hash: chainHash(prevHash, canonical), canonical };
    prevHash = link.hash;
    return { link, columns: auditColumns(record) };
  });
  return { rows, tip: { seq, hash: prevHash, ts: lastTs } };
}

/** The parameters of unnestColumns: one value per column, in COLUMNS order. */
function columnArrays(rows: readonly ChainedRow[]): unknown[] {
  const columns: unknown[][] = COLUMN_TYPES.map(() => []);
  for (const { link, columns: c } of rows) {
    const values = [link.seq, c.ts, c.kind, c.server, c.tool, c.grant_name, c.agent, c.approval_id, c.actor, link.canonical, link.prevHash, link.hash];
    values.forEach((value, i) => columns[i]!.push(value));
  }
  return columns.map((values, i) => (COLUMN_TYPES[i] === 'lines' ? Buffer.from(values.join('\n'), 'utf8') : values));
}

/** The current tip; `FOR UPDATE` holds it until the transaction ends. */
async function readChainTip(db: Db, lock: '' | 'FOR UPDATE' = ''): Promise<ChainTip> {
  const [head] = await db.query<ChainHead & { ts: Date | null }>(`SELECT seq, hash, ts FROM audit_chain_head WHERE id = 1 ${lock}`);
  if (!head) throw new AirlockError('INTERNAL', 'The audit chain head row is missing; the audit log was tampered with');
  return { seq: head.seq, hash: head.hash, ts: head.ts?.getTime() ?? Number.NEGATIVE_INFINITY };
}

export async function readChainHead(db: Db): Promise<ChainHead | undefined> {
  const [head] = await db.query<ChainHead>('SELECT seq, hash FROM audit_chain_head WHERE id = 1');
  return head;
}

/** Rows from `fromSeq` on, in seq order, a page at a time, so a million rows never sit in memory at once. */
export async function* iterateChainRows(db: Db, fromSeq = 1, pageSize = 1000): AsyncGenerator<StoredChainRow> {
  let next = fromSeq;
  for (;;) {
    const page = await db.query<StoredChainRow>(`${SELECT_ROW} WHERE seq >= $1 ORDER BY seq LIMIT $2`, [next, pageSize]);
    yield* page;
    const last = page.at(-1);
    if (page.length < pageSize || !last) return;
    next = last.seq + 1;
  }
}

// The first seq recorded at or after a time: ts never decreases along seq, so one step down the (ts, seq) index.
const FIRST_SEQ_AT = (slot: string) =>
  `(SELECT seq FROM audit_events WHERE ts >= ${slot}::timestamptz ORDER BY ts, seq LIMIT 1)`;

/** The first seq recorded at or after `ts`, where an export `--since` a time starts. */
export async function firstSeqAtOrAfter(db: Db, ts: Date): Promise<number | undefined> {
  const [row] = await db.query<{ seq: number | null }>(`SELECT ${FIRST_SEQ_AT('$1')} AS seq`, [ts.toISOString()]);
  return row?.seq ?? undefined;
}

export interface AuditQuery {
  kinds?: readonly string[];
  server?: string;
  tool?: string;
  agent?: string;
  grant?: string;
  approvalId?: string;
  /** Who decided (`web:alice`, `slack:U…`). */
  actor?: string;
  from?: Date;
  to?: Date;
  /** Keyset cursor: only events older than this seq (the previous page's `nextBeforeSeq`). */
  beforeSeq?: number;
  /** Page size, 1–500; default 50. */
  limit?: number;
}

export interface AuditEventView {
  seq: number;
  prevHash: string;
  hash: string;
  record: AuditRecord;
}

export interface AuditPage {
  events: AuditEventView[];
  /** Pass as `beforeSeq` for the next (older) page; null on the last page. */
  nextBeforeSeq: number | null;
}

/** The statement behind queryAuditEvents, apart so tests can EXPLAIN it. Fetches one extra row to see a next page. */
export function auditQuerySql(query: AuditQuery = {}): { sql: string; params: unknown[]; limit: number } {
  const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), 500);
  const params: unknown[] = [];
  const where: string[] = [];
  const add = (sql: (slot: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (query.kinds?.length) add((slot) => `kind = ANY(${slot}::text[])`, [...query.kinds]);
  if (query.server !== undefined) add((slot) => `server = ${slot}`, query.server);
  if (query.tool !== undefined) add((slot) => `tool = ${slot}`, query.tool);
  if (query.agent !== undefined) add((slot) => `agent = ${slot}`, query.agent);
  if (query.grant !== undefined) add((slot) => `grant_name = ${slot}`, query.grant);
  if (query.approvalId !== undefined) add((slot) => `approval_id = ${slot}`, query.approvalId);
  if (query.actor !== undefined) add((slot) => `actor = ${slot}`, query.actor);
  // A time range becomes a seq range, so the newest-first scan starts and stops at the right rows instead of
  // filtering its way back from the end of the log.
  if (query.from !== undefined) add((slot) => `seq >= COALESCE(${FIRST_SEQ_AT(slot)}, ${MAX_SEQ})`, query.from.toISOString());
  if (query.to !== undefined) add((slot) => `seq < COALESCE(${FIRST_SEQ_AT(slot)}, ${MAX_SEQ})`, query.to.toISOString());
  if (query.beforeSeq !== undefined) add((slot) => `seq < ${slot}`, query.beforeSeq);
  params.push(limit + 1);
  const sql = `SELECT seq, prev_hash AS "prevHash", hash, canonical FROM audit_events
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${params.length}`;
  return { sql, params, limit };
}

/** Newest first. Every filter is an indexed column and paging is by seq, so pages cost the same at any depth. */
export async function queryAuditEvents(db: Db, query: AuditQuery = {}): Promise<AuditPage> {
  const { sql, params, limit } = auditQuerySql(query);
  const rows = await db.query<ChainRow>(sql, params);
  const page = rows.slice(0, limit);
  return {
    events: page.map((row) => ({
      seq: row.seq,
      prevHash: row.prevHash,
      hash: row.hash,
      record: JSON.parse(row.canonical) as AuditRecord,
    })),
    nextBeforeSeq: rows.length > limit ? (page.at(-1)?.seq ?? null) : null,
  };
}
