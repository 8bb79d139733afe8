/**
 * `airlock audit verify [--file F] [--config C]` and `airlock audit export --format jsonl [--since T] [--output F] [--config C]`:
 * argument parsing and printing only; the checking and exporting are audit/'s. Exit codes: 0 valid (or
 * exported), 1 the log is invalid, 2 wrong command line or the log could not be read.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { ParseArgsConfig } from 'node:util';

import { AirlockError, asAirlockError } from '../errors/airlock-error.js';
import { writeAuditExport, type ExportSince, type TextSink } from '../audit/export.js';
import { verifyAuditExport, verifyAuditLog, type VerifyResult } from '../audit/verify.js';
import { type CliIo, CONFIG_OPTION, DATABASE_USAGE, parseCommandLine, runSubcommands, UsageError, withDb } from './command.js';
import type { Db } from '../db/db.js';
import { sqlState } from '../db/storage-error.js';


export interface AuditCommandDeps {
  /** Opens the database; the command closes it. Defaults to openCommandDb() (--config and the environment). */
  openDb?: () => Promise<Db>;
}

const USAGE = `usage:
  airlock audit verify [--file export.jsonl] [--json] [--config airlock.config.json]
      Recomputes the hash chain of the audit log (or of an export file) and names every edited, deleted or
      reordered row. Exit 0 valid, 1 invalid.
  airlock audit export --format jsonl [--since ISO-TIME|SEQ] [--output FILE] [--config airlock.config.json]
      Writes verifiable rows (seq, prev_hash, hash, canonical event), from --since to the end.
${DATABASE_USAGE}`;

export async function runAuditCommand(argv: string[], io: CliIo, deps: AuditCommandDeps = {}): Promise<number> {
  return runSubcommands(
    'audit',
    USAGE,
    argv,
    io,
    { verify: (rest) => verify(rest, io, deps), export: (rest) => exportLog(rest, io, deps) },
    (error) => ({ message: describeFailure(error), exitCode: 2 }),
  );
}

function parse<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  return parseCommandLine(argv, options).values;
}

async function verify(argv: string[], io: CliIo, deps: AuditCommandDeps): Promise<number> {
  const values = parse(argv, { file: { type: 'string' }, json: { type: 'boolean' }, ...CONFIG_OPTION });
  const file = values.file;
  const database = { config: values.config, existing: true };
  const result = file === undefined ? await withDb(deps.openDb, database, verifyAuditLog) : await verifyAuditExport(file);
  if (values.json) io.stdout(JSON.stringify(result, null, 2));
  else printVerification(file ?? 'audit log', result, io);
  return result.ok ? 0 : 1;
}

function printVerification(subject: string, result: VerifyResult, io: CliIo): void {
  const range = result.firstSeq === undefined ? '' : ` (seq ${result.firstSeq}–${result.lastSeq})`;
  const anchor = result.anchoredAt
    ? `\n  starts at seq ${result.anchoredAt.seq}; its prev_hash ${result.anchoredAt.prevHash} was not checked`
    : '';
  if (result.ok) {
    io.stdout(`${subject}: valid, ${result.rows} rows${range}${result.lastHash ? `, last hash ${result.lastHash}` : ''}${anchor}`);
    return;
  }
  const total = result.problems.length + result.moreProblems;
  const lines = result.problems.map((problem) => {
    const where = [problem.line === undefined ? '' : `line ${problem.line}`, problem.seq === undefined ? '' : `seq ${problem.seq}`];
    const label = where.filter(Boolean).join(', ');
    return `  ${label ? `${label}: ` : ''}${problem.message}`;
  });
  if (result.moreProblems > 0) lines.push(`  … and ${result.moreProblems} more`);
  io.stdout(`${subject}: INVALID, ${total} problem${total === 1 ? '' : 's'} in ${result.rows} rows${range}\n${lines.join('\n')}${anchor}`);
}

async function exportLog(argv: string[], io: CliIo, deps: AuditCommandDeps): Promise<number> {
  const values = parse(argv, { format: { type: 'string' }, since: { type: 'string' }, output: { type: 'string' }, ...CONFIG_OPTION });
  const database = { config: values.config, existing: true };
  if (values.format !== 'jsonl') throw new UsageError('--format jsonl is required (the only format so far)');
  const since = values.since === undefined ? undefined : parseSince(values.since);
  const output = values.output;
  if (output === undefined) {
    const sink: TextSink = { write: (chunk) => io.stdout(chunk) };
    await withDb(deps.openDb, database, (db) => writeAuditExport(db, sink, since));
    return 0;
  }
  // The file is created once the database opened: a wrong --config or data directory leaves nothing behind.
  const summary = await withDb(deps.openDb, database, async (db) => {
    const stream = createWriteStream(output, { encoding: 'utf8' });
    const written = await writeAuditExport(db, stream, since);
    stream.end();
    await once(stream, 'finish');
    return written;
  });
  io.stderr(`exported ${summary.rows} rows${summary.firstSeq === undefined ? '' : ` (seq ${summary.firstSeq}–${summary.lastSeq})`} to ${output}`);
  return 0;
}

/** A seq (digits) or an ISO 8601 time. */
export function parseSince(text: string): ExportSince {
  if (/^\d+$/.test(text)) {
    const seq = Number(text);
    if (seq >= 1 && Number.isSafeInteger(seq)) return { seq };
  } else if (/^\d{4}-\d{2}-\d{2}/.test(text) && !Number.isNaN(Date.parse(text))) {
    return { ts: new Date(text) };
  }
  throw new UsageError(`--since must be a seq (1, 2, …) or an ISO time such as 2026-11-01T00:00:00Z, not "${text}"`);
}

function describeFailure(error: unknown): string {
  // 42P01: undefined table. A database nobody migrated has no audit log to read.
  if (sqlState(error) === '42P01') return 'this database has no audit log yet: run `airlock migrate` first';
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return `cannot read ${(error as NodeJS.ErrnoException).path}`;
  const airlockError: AirlockError = asAirlockError(error);
  return airlockError.message;
}
