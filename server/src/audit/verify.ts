/**
 * Recomputes the audit chain and names every row that does not fit: edited (hash or columns disagree with the
 * content), deleted (a seq gap, or a tail missing against the chain head), reordered (a row holding another
 * seq's event, or linking to the wrong predecessor). Works on the database and on a JSONL export alike.
 *
 * What a self-contained chain cannot show: someone who rewrites every row after an edit *and* the chain head.
 * Signed checkpoints copied off the machine close that gap (research/infra.md §6); compare `lastHash` with one.
 */
import type { Db } from '../db/db.js';
import { canonicalJson, type JsonValue } from '../util/canonical-json.js';
import { auditColumns, auditRecordSchema, type AuditColumns, type AuditRecordFields } from './audit-event.js';
import { iterateChainRows, readChainHead, type ChainHead, type ChainRow, type StoredChainRow } from './audit-store.js';
import { readAuditExport } from './export.js';
import { chainHash, GENESIS_HASH } from './hash-chain.js';

export interface VerifyProblem {
  /** The row at fault, or the first missing one. */
  seq?: number;
  /** The line of an export file, when verifying one. */
  line?: number;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  rows: number;
  firstSeq?: number;
  lastSeq?: number;
  /** Hash of the last row: compare it with a checkpoint kept elsewhere. */
  lastHash?: string;
  /** Set when the rows do not start at seq 1 (a `--since` export): the first prev_hash was taken on trust. */
  anchoredAt?: { seq: number; prevHash: string };
  problems: VerifyProblem[];
  /** Problems past MAX_PROBLEMS are counted, not listed. */
  moreProblems: number;
}

export const MAX_PROBLEMS = 100;

/** A row to check, plus where it came from when that helps name it. */
export interface VerifiableRow extends ChainRow {
  line?: number;
  /** The stored filter columns; checked against the canonical record when present. */
  columns?: AuditColumns;
}

export interface VerifyChainOptions {
  /** Accept a first row other than seq 1, trusting its prev_hash (partial exports). */
  allowPartial?: boolean;
}

class ProblemList {
  readonly items: VerifyProblem[] = [];
  more = 0;
  add(problem: VerifyProblem): void {
    if (this.items.length < MAX_PROBLEMS) this.items.push(problem);
    else this.more += 1;
  }
}

export async function verifyChain(
  rows: AsyncIterable<VerifiableRow | VerifyProblem> | Iterable<VerifiableRow | VerifyProblem>,
  options: VerifyChainOptions = {},
): Promise<VerifyResult> {
  const problems = new ProblemList();
  let previous: VerifiableRow | undefined;
  let previousTs = Number.NEGATIVE_INFINITY;
  let first: VerifiableRow | undefined;
  let count = 0;

  for await (const item of rows) {
    // Unreadable lines of an export arrive as problems already.
    if (!('canonical' in item)) {
      problems.add(item);
      continue;
    }
    const row = item;
    count += 1;
    const at = (message: string) => problems.add({ seq: row.seq, ...(row.line === undefined ? {} : { line: row.line }), message });

    if (!previous) {
      first = row;
      if (row.seq !== 1 && !options.allowPartial) {
        at(`rows 1 to ${row.seq - 1} are missing: the log starts at seq ${row.seq} (deleted rows)`);
      } else if (row.seq === 1 && row.prevHash !== GENESIS_HASH) {
        at('prev_hash of the first row is not 64 zeros (rows before it were deleted, or it was edited)');
      }
    } else if (row.seq > previous.seq + 1) {
      const gap = row.seq - previous.seq - 1;
      problems.add({
        seq: previous.seq + 1,
        message: `${gap === 1 ? `seq ${previous.seq + 1} is` : `seqs ${previous.seq + 1} to ${row.seq - 1} are`} missing: deleted between seq ${previous.seq} and seq ${row.seq}`,
      });
    } else if (row.seq <= previous.seq) {
      // Checked no further, and not the new predecessor: the rows after it still link to `previous`.
      at(`out of order: seq ${row.seq} comes after seq ${previous.seq}`);
      continue;
    } else if (row.prevHash !== previous.hash) {
      at(`prev_hash does not match the hash of seq ${previous.seq}: the rows were reordered or one was replaced`);
    }

    if (chainHash(row.prevHash, row.canonical) !== row.hash) {
      at('hash does not match the row: its content, prev_hash or hash was edited');
    }
    const record = checkRecord(row, at);
    if (record) {
      // The console turns time ranges into seq ranges on the strength of this order.
      const ts = Date.parse(record.ts);
      if (previous && ts < previousTs) at(`ts ${record.ts} is earlier than that of seq ${previous.seq} (edited)`);
      previousTs = ts;
    }
    previous = row;
  }

  return {
    ok: problems.items.length === 0 && problems.more === 0,
    rows: count,
    ...(first ? { firstSeq: first.seq } : {}),
    ...(previous ? { lastSeq: previous.seq, lastHash: previous.hash } : {}),
    ...(first && first.seq !== 1 ? { anchoredAt: { seq: first.seq, prevHash: first.prevHash } } : {}),
    problems: problems.items,
    moreProblems: problems.more,
  };
}

/**
 * The canonical text must be canonical, hold this row's seq, and agree with the stored filter columns.
 * Returns the record when it is readable, for the checks that span rows.
 */
function checkRecord(row: VerifiableRow, at: (message: string) => void): AuditRecordFields | undefined {
  let value: unknown;
  try {
    value = JSON.parse(row.canonical);
  } catch {
    at('the event is not valid JSON (edited)');
    return undefined;
  }
  const parsed = auditRecordSchema.safeParse(value);
  if (!parsed.success) {
    at('the event lacks a valid seq, ts or kind (edited)');
    return undefined;
  }
  if (canonicalJson(value as JsonValue) !== row.canonical) at('the event is not in canonical form (edited)');
  const record = parsed.data;
  if (record.seq !== row.seq) {
    at(`holds the event of seq ${record.seq}: rows were reordered`);
    return record;
  }
  if (!row.columns) return record;
  const expected = auditColumns(record);
  for (const [column, value] of Object.entries(row.columns) as [keyof AuditColumns, string | null][]) {
    const same = column === 'ts' ? Date.parse(value ?? '') === Date.parse(expected.ts) : value === expected[column];
    if (!same) at(`column ${column} is ${JSON.stringify(value)} but the hashed event says ${JSON.stringify(expected[column])} (edited)`);
  }
  return record;
}

/** The chain head must describe the last row: anything else means rows were cut off the end, or added around it. */
export function checkChainHead(head: ChainHead | undefined, lastSeq = 0, lastHash?: string): VerifyProblem | undefined {
  if (!head) return { message: 'the audit chain head row is missing (deleted)' };
  if (head.seq > lastSeq) {
    return {
      seq: lastSeq + 1,
      message: `the chain head records ${head.seq} rows but the log ends at seq ${lastSeq}: the last rows were deleted`,
    };
  }
  if (head.seq < lastSeq) {
    return { seq: head.seq + 1, message: `rows after seq ${head.seq} were added outside the audit log (the chain head ends there)` };
  }
  if (lastHash !== undefined && head.hash !== lastHash) {
    return { seq: lastSeq, message: 'the chain head hash does not match the last row (edited)' };
  }
  return undefined;
}

function toVerifiable(row: StoredChainRow): VerifiableRow {
  return {
    seq: row.seq,
    prevHash: row.prevHash,
    hash: row.hash,
    canonical: row.canonical,
    columns: {
      ts: row.ts.toISOString(),
      kind: row.kind,
      server: row.server,
      tool: row.tool,
      grant_name: row.grant_name,
      agent: row.agent,
      approval_id: row.approval_id,
      actor: row.actor,
    },
  };
}

/**
 * Verifies the whole log in the database, including its chain head, while gateways may keep appending: rows and
 * head commit together, so the head is read after the rows, and rows appended meanwhile are read and checked too
 * until the head is reached (or no more rows come, which means the tail was deleted).
 */
export async function verifyAuditLog(db: Db): Promise<VerifyResult> {
  let head: ChainHead | undefined;
  async function* rows() {
    let next = 1;
    let emptyPassAfterHead = false;
    for (;;) {
      const from = next;
      for await (const row of iterateChainRows(db, from)) {
        next = row.seq + 1;
        yield toVerifiable(row);
      }
      head = await readChainHead(db);
      if (!head || head.seq < next) return;
      // The head is ahead of what was read. Rows commit with their head, so a pass begun after reading the head
      // sees them; only a second empty pass means they are gone (a deleted tail).
      if (next === from) {
        if (emptyPassAfterHead) return;
        emptyPassAfterHead = true;
      } else {
        emptyPassAfterHead = false;
      }
    }
  }
  const result = await verifyChain(rows());
  const problem = checkChainHead(head, result.lastSeq, result.lastHash);
  return problem ? { ...result, ok: false, problems: [...result.problems, problem] } : result;
}

/**
 * Verifies a JSONL export. A file that starts after seq 1 (`--since`) is accepted; its first prev_hash is
 * reported in `anchoredAt` so it can be compared with the database or an earlier export.
 */
export async function verifyAuditExport(path: string): Promise<VerifyResult> {
  return verifyChain(readAuditExport(path), { allowPartial: true });
}
