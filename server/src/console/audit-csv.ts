/**
 * One audit event as a CSV row (RFC 4180) for spreadsheets. Cells that a spreadsheet would run as a formula
 * (starting with = + - @, tab or carriage return) get a leading apostrophe: arguments and reasons come from
 * agents and people, and an export must not become a way to run something on an auditor's machine.
 */
import type { AuditEventView } from '../audit/audit-store.js';

const CSV_COLUMNS = [
  'seq',
  'ts',
  'kind',
  'server',
  'tool',
  'grant',
  'agent',
  'session',
  'actor',
  'via',
  'approvalId',
  'rule',
  'reason',
  'upstreamStatus',
  'durationMs',
  'args',
  'detail',
  'hash',
] as const;

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

export function csvRow(event: AuditEventView): string {
  const record = event.record as unknown as Record<string, unknown>;
  const cells = CSV_COLUMNS.map((column) => (column === 'hash' ? event.hash : cellText(record[column])));
  return `${cells.map(quote).join(',')}\r\n`;
}

function cellText(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function quote(cell: string): string {
  const safe = /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
