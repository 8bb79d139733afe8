import { describe, expect, it } from 'vitest';

import type { AuditEventView } from '../audit/audit-store.js';
import { csvHeader, csvRow } from './audit-csv.js';

function event(record: Record<string, unknown>): AuditEventView {
  return { seq: 7, prevHash: '0'.repeat(64), hash: 'a'.repeat(64), record: { seq: 7, ts: '2026-11-24T09:00:00.000Z', kind: 'rejected', ...record } as AuditEventView['record'] };
}

describe('audit CSV', () => {
  it('writes one RFC 4180 row per event, in the header’s columns', () => {
    expect(csvHeader()).toBe('seq,ts,kind,server,tool,grant,agent,session,actor,via,approvalId,rule,reason,upstreamStatus,durationMs,args,detail,hash\r\n');
    const row = csvRow(event({ server: 'pay', tool: 'create_charge', actor: 'web:alice', reason: 'too much, "really"', args: { amount: 5 } }));
    expect(row).toBe(`7,2026-11-24T09:00:00.000Z,rejected,pay,create_charge,,,,web:alice,,,,"too much, ""really""",,,"{""amount"":5}",,${'a'.repeat(64)}\r\n`);
  });

  it('keeps spreadsheet formulas inert', () => {
    for (const reason of ['=HYPERLINK("http://x")', '+1', '-2+3', '@SUM(A1)']) {
      const cells = csvRow(event({ reason })).split(',');
      expect(cells.some((cell) => cell.startsWith(`'${reason.slice(0, 2)}`) || cell.startsWith(`"'${reason.slice(0, 2)}`))).toBe(true);
    }
  });

  it('quotes line breaks inside a cell', () => {
    expect(csvRow(event({ reason: 'line one\nline two' }))).toContain('"line one\nline two"');
  });
});
