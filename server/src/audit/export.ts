/**
 * JSONL export of the audit log, one row a line, each carrying what is needed to verify it without the
 * database: `{"canonical":"…","hash":"…","prev_hash":"…","seq":N}` (itself canonical JSON). The event stays the
 * exact hashed text, so any SHA-256 tool can check a line: `sha256(prev_hash + canonical) == hash`;
 * `jq '.canonical | fromjson'` shows the event.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';

import type { Db } from '../db/db.js';
import { firstSeqAtOrAfter, iterateChainRows, type ChainRow } from './audit-store.js';
import { canonicalJson } from '../util/canonical-json.js';
import type { VerifiableRow, VerifyProblem } from './verify.js';

/** Where an export starts: a seq, or the first event at or after a time. The export then runs to the end. */
export type ExportSince = { seq: number } | { ts: Date };

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const exportLineSchema = z.strictObject({
  seq: z.number().int().positive(),
  prev_hash: hex64,
  hash: hex64,
  canonical: z.string(),
});

export function toExportLine(row: ChainRow): string {
  return canonicalJson({ seq: row.seq, prev_hash: row.prevHash, hash: row.hash, canonical: row.canonical });
}

/** A text sink such as process.stdout; backpressure is honoured when it offers `once('drain')`. */
export interface TextSink {
  write(chunk: string): boolean | void;
  once?(event: 'drain', listener: () => void): unknown;
}

export interface ExportSummary {
  rows: number;
  firstSeq?: number;
  lastSeq?: number;
}

const LINES_PER_WRITE = 1000;

export async function writeAuditExport(db: Db, sink: TextSink, since?: ExportSince): Promise<ExportSummary> {
  const fromSeq = since === undefined ? 1 : 'seq' in since ? since.seq : await firstSeqAtOrAfter(db, since.ts);
  const summary: ExportSummary = { rows: 0 };
  if (fromSeq === undefined) return summary;
  let lines: string[] = [];
  const drain = async () => {
    const flushed = sink.write(lines.join(''));
    lines = [];
    if (flushed === false && sink.once) await new Promise<void>((resolve) => sink.once?.('drain', resolve));
  };
  for await (const row of iterateChainRows(db, fromSeq)) {
    summary.firstSeq ??= row.seq;
    summary.lastSeq = row.seq;
    summary.rows += 1;
    lines.push(`${toExportLine(row)}\n`);
    if (lines.length >= LINES_PER_WRITE) await drain();
  }
  if (lines.length > 0) await drain();
  return summary;
}

/** Rows of an export file; a line that is not a valid export row becomes a problem naming the line. */
export async function* readAuditExport(path: string): AsyncGenerator<VerifiableRow | VerifyProblem> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line += 1;
    if (text.trim() === '') continue;
    let parsed: z.infer<typeof exportLineSchema>;
    try {
      parsed = exportLineSchema.parse(JSON.parse(text));
    } catch {
      yield { line, message: 'not a valid export row (expected seq, prev_hash, hash, canonical)' };
      continue;
    }
    yield { line, seq: parsed.seq, prevHash: parsed.prev_hash, hash: parsed.hash, canonical: parsed.canonical };
  }
}
