import { describe, expect, it } from 'vitest';

import { canonicalJson } from '../util/canonical-json.js';
import { chainHash, GENESIS_HASH } from './hash-chain.js';
import { checkChainHead, MAX_PROBLEMS, verifyChain, type VerifiableRow } from './verify.js';

/** A valid chain of `n` rows starting at `from`, linked to `prev`. */
function chain(n: number, from = 1, prev = GENESIS_HASH): VerifiableRow[] {
  const rows: VerifiableRow[] = [];
  for (let seq = from; seq < from + n; seq++) {
    const canonical = canonicalJson({ seq, ts: '2026-11-24T00:00:00.000Z', kind: 'allowed', tool: `t${seq}` });
    const hash = chainHash(prev, canonical);
    rows.push({ seq, prevHash: prev, hash, canonical });
    prev = hash;
  }
  return rows;
}

/** Replaces a row's content and re-hashes it, as a careful forger would. */
function forge(row: VerifiableRow, canonical: string): VerifiableRow {
  return { ...row, canonical, hash: chainHash(row.prevHash, canonical) };
}

describe('verifyChain', () => {
  it('accepts a valid chain and reports its range and last hash', async () => {
    const rows = chain(5);
    expect(await verifyChain(rows)).toEqual({
      ok: true,
      rows: 5,
      firstSeq: 1,
      lastSeq: 5,
      lastHash: rows[4]!.hash,
      problems: [],
      moreProblems: 0,
    });
  });

  it('accepts an empty log', async () => {
    expect(await verifyChain([])).toMatchObject({ ok: true, rows: 0, problems: [] });
  });

  describe('when a row was edited', () => {
    it('names it when the hash no longer matches', async () => {
      const rows = chain(5);
      rows[2] = { ...rows[2]!, canonical: rows[2]!.canonical.replace('"t3"', '"t9"') };
      expect((await verifyChain(rows)).problems).toEqual([
        { seq: 3, message: 'hash does not match the row: its content, prev_hash or hash was edited' },
      ]);
    });

    it('names the next row when the forger re-hashed the edited one', async () => {
      const rows = chain(5);
      rows[2] = forge(rows[2]!, rows[2]!.canonical.replace('"t3"', '"t9"'));
      expect((await verifyChain(rows)).problems).toEqual([
        { seq: 4, message: 'prev_hash does not match the hash of seq 3: the rows were reordered or one was replaced' },
      ]);
    });

    it('names content that is valid JSON but not canonical', async () => {
      const rows = chain(2);
      rows[1] = forge(rows[1]!, JSON.stringify(JSON.parse(rows[1]!.canonical), null, 1));
      rows.push(...chain(1, 3, rows[1]!.hash));
      expect((await verifyChain(rows)).problems).toEqual([{ seq: 2, message: 'the event is not in canonical form (edited)' }]);
    });

    it('names content that is not JSON, or lacks seq, ts or kind', async () => {
      const rows = chain(2);
      rows[0] = forge(rows[0]!, 'not json');
      rows[1] = forge({ ...rows[1]!, prevHash: rows[0]!.hash }, canonicalJson({ seq: 2, kind: 'allowed' }));
      expect((await verifyChain(rows)).problems).toEqual([
        { seq: 1, message: 'the event is not valid JSON (edited)' },
        { seq: 2, message: 'the event lacks a valid seq, ts or kind (edited)' },
      ]);
    });

    it('names a ts earlier than the row before it', async () => {
      const rows = chain(3);
      const record = { ...(JSON.parse(rows[1]!.canonical) as object), ts: '2026-11-23T00:00:00.000Z' };
      rows[1] = forge(rows[1]!, canonicalJson(record));
      rows[2] = forge({ ...rows[2]!, prevHash: rows[1]!.hash }, rows[2]!.canonical);
      expect((await verifyChain(rows)).problems).toEqual([
        { seq: 2, message: 'ts 2026-11-23T00:00:00.000Z is earlier than that of seq 1 (edited)' },
      ]);
    });

    it('names filter columns that disagree with the hashed event', async () => {
      const [row] = chain(1);
      const columns = { ts: '2026-11-24T00:00:00Z', kind: 'denied', server: null, tool: 't1', grant_name: null, agent: null, approval_id: null, actor: 'web:mallory' };
      expect((await verifyChain([{ ...row!, columns }])).problems).toEqual([
        { seq: 1, message: 'column kind is "denied" but the hashed event says "allowed" (edited)' },
        { seq: 1, message: 'column actor is "web:mallory" but the hashed event says null (edited)' },
      ]);
    });
  });

  describe('when rows were deleted', () => {
    it('names a gap', async () => {
      const rows = chain(6);
      rows.splice(2, 2);
      expect((await verifyChain(rows)).problems).toEqual([
        { seq: 3, message: 'seqs 3 to 4 are missing: deleted between seq 2 and seq 5' },
      ]);
    });

    it('names missing first rows, unless a partial export is expected', async () => {
      const rows = chain(5).slice(2);
      expect((await verifyChain(rows)).problems).toEqual([
        { seq: 3, message: 'rows 1 to 2 are missing: the log starts at seq 3 (deleted rows)' },
      ]);
      expect(await verifyChain(rows, { allowPartial: true })).toMatchObject({
        ok: true,
        anchoredAt: { seq: 3, prevHash: rows[0]!.prevHash },
      });
    });

    it('names a first row whose prev_hash is not the genesis hash', async () => {
      const rows = chain(2, 1, 'f'.repeat(64));
      expect((await verifyChain(rows)).problems).toEqual([
        { seq: 1, message: 'prev_hash of the first row is not 64 zeros (rows before it were deleted, or it was edited)' },
      ]);
    });
  });

  describe('when rows were reordered', () => {
    it('names rows that appear out of order', async () => {
      const rows = chain(4);
      [rows[1], rows[2]] = [rows[2]!, rows[1]!];
      expect((await verifyChain(rows)).problems).toEqual([
        { seq: 2, message: 'seq 2 is missing: deleted between seq 1 and seq 3' },
        { seq: 2, message: 'out of order: seq 2 comes after seq 3' },
      ]);
    });

    it('names rows holding another seq’s event', async () => {
      const rows = chain(3);
      const [a, b] = [rows[0]!, rows[1]!];
      rows[0] = { ...b, seq: 1 };
      rows[1] = { ...a, seq: 2 };
      const { problems } = await verifyChain(rows);
      expect(problems).toContainEqual({ seq: 1, message: 'holds the event of seq 2: rows were reordered' });
      expect(problems).toContainEqual({ seq: 2, message: 'holds the event of seq 1: rows were reordered' });
    });
  });

  it('passes problems found while reading (an unreadable export line) through, and keeps checking', async () => {
    const rows = chain(2);
    const result = await verifyChain([rows[0]!, { line: 2, message: 'not a valid export row' }, rows[1]!]);
    expect(result).toMatchObject({ ok: false, rows: 2, problems: [{ line: 2, message: 'not a valid export row' }] });
  });

  it(`lists at most ${MAX_PROBLEMS} problems and counts the rest`, async () => {
    const rows = chain(MAX_PROBLEMS + 20).map((row) => ({ ...row, hash: GENESIS_HASH }));
    const result = await verifyChain(rows);
    expect(result.problems).toHaveLength(MAX_PROBLEMS);
    expect(result.moreProblems).toBeGreaterThan(0);
    expect(result.ok).toBe(false);
  });
});

describe('checkChainHead', () => {
  const last = chain(5)[4]!;
  it('accepts a head that describes the last row', () => {
    expect(checkChainHead({ seq: 5, hash: last.hash }, 5, last.hash)).toBeUndefined();
    expect(checkChainHead({ seq: 0, hash: GENESIS_HASH })).toBeUndefined();
  });

  it('names a deleted tail', () => {
    expect(checkChainHead({ seq: 5, hash: last.hash }, 3, 'x')).toEqual({
      seq: 4,
      message: 'the chain head records 5 rows but the log ends at seq 3: the last rows were deleted',
    });
    expect(checkChainHead({ seq: 5, hash: last.hash })).toMatchObject({ seq: 1 });
  });

  it('names rows beyond the head, a head whose hash differs, and a missing head', () => {
    expect(checkChainHead({ seq: 4, hash: last.hash }, 5, last.hash)).toEqual({
      seq: 5,
      message: 'rows after seq 4 were added outside the audit log (the chain head ends there)',
    });
    expect(checkChainHead({ seq: 5, hash: GENESIS_HASH }, 5, last.hash)).toEqual({
      seq: 5,
      message: 'the chain head hash does not match the last row (edited)',
    });
    expect(checkChainHead(undefined, 5, last.hash)).toEqual({ message: 'the audit chain head row is missing (deleted)' });
  });
});
