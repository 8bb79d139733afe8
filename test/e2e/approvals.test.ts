/**
 * Holding a call for a human, end to end with the SDK client, on PGlite and on PostgreSQL: approve → the upstream
 * runs once and the client gets its result; reject → a policy violation with the reason; expiry → on_timeout;
 * cancellation → cancelled, never run; the long-wait ladder; racing decisions; who may decide.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import { verifyAuditLog } from '../../server/src/audit/verify.js';
import { TEST_DIALECTS } from '../contract/test-databases.js';
import { ADMIN_TOKEN, startApprovalGateway, type ApprovalGateway } from './helpers/approval-gateway.js';
import { rawCall, textOf } from './helpers/gateway.js';

const POLICY = {
  version: '1',
  default: 'allow',
  tools: {
    echo: { action: 'require_approval', approval: { approvers: ['group:oncall', 'web:carol', 'web:admin'] } },
    progress: { action: 'require_approval', approval: { approvers: ['web:alice'], timeout: '10m', on_timeout: 'reject' } },
    touch: { action: 'require_approval', approval: { approvers: ['web:alice'], timeout: '1m', on_timeout: 'approve' } },
    log: { action: 'require_approval', approval: { approvers: ['web:alice', 'web:bob'], quorum: 2 } },
  },
};

const decision = (result: Record<string, unknown>) => (result._meta as Record<string, Record<string, unknown>> | undefined)?.['airlock/decision'];

async function pendingFor(gw: ApprovalGateway, tool: string) {
  let id = '';
  await expect
    .poll(async () => {
      const pending = (await gw.service.list({ status: 'pending' })).find((a) => a.tool === tool);
      id = pending?.id ?? '';
      return id;
    })
    .not.toBe('');
  return id;
}

async function upstreamCalls(client: Client, tool: string): Promise<number> {
  return JSON.parse(textOf(await rawCall(client, 'test__stats'))).calls[tool] ?? 0;
}

describe.each(TEST_DIALECTS)('approvals on %s', (dialect) => {
  let gw: ApprovalGateway;
  let client: Client;

  beforeAll(async () => {
    gw = await startApprovalGateway(dialect, POLICY, { syncCap: '10m', heartbeat: '50ms' });
    client = await gw.connect();
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await gw?.close();
  });

  it('holds the call until approved, then runs the upstream once and returns its real result', async () => {
    const call = rawCall(client, 'test__echo', { text: 'ship it' });
    const id = await pendingFor(gw, 'echo');
    expect(await upstreamCalls(client, 'echo')).toBe(0);
    const outcome = await gw.service.decide(id, { decision: 'approve' }, { id: 'web:alice', via: 'web' });
    expect(outcome).toMatchObject({ ok: true, final: true });
    expect(await call).toEqual({ content: [{ type: 'text', text: 'ship it', 'x-vendor': { kept: true } }], 'x-result-extra': 42 });
    expect(await upstreamCalls(client, 'echo')).toBe(1);
    await expect.poll(async () => (await gw.service.get(id))?.execution?.status).toBe('succeeded');
  });

  it('rejects with a policy violation naming who rejected and why, and never calls the upstream', async () => {
    const call = rawCall(client, 'test__echo', { text: 'drop tables' });
    const id = await pendingFor(gw, 'echo');
    await gw.service.decide(id, { decision: 'reject', reason: 'not during the freeze' }, { id: 'web:bob', via: 'web' });
    const result = await call;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('Policy violation: Rejected by web:bob: not during the freeze');
    expect(decision(result)).toMatchObject({ decision: 'reject', approvalId: id, rule: '/tools/echo/action' });
    expect(result.structuredContent).toBeUndefined();
    expect(await upstreamCalls(client, 'echo')).toBe(1);
  });

  it('is decided through the REST API, which the websocket reports the moment it happens', async () => {
    const api = (path: string, init?: RequestInit) =>
      fetch(`${gw.url}/api${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...init?.headers } });
    const socket = new WebSocket(`${gw.url.replace('http', 'ws')}/api/stream`, ['airlock', `bearer.${ADMIN_TOKEN}`]);
    const messages: { type: string; approval?: { id: string; status: string } }[] = [];
    const decidedSeen = new Promise<void>((resolve) =>
      socket.addEventListener('message', (event) => {
        const message = JSON.parse(String(event.data));
        messages.push(message);
        if (message.type === 'decided') resolve();
      }),
    );
    await new Promise((resolve) => socket.addEventListener('open', resolve));
    const call = rawCall(client, 'test__echo', { text: 'via rest' });
    const id = await pendingFor(gw, 'echo');
    expect((await (await api(`/approvals/${id}`)).json()).status).toBe('pending');
    expect((await api('/approvals/no-such-id')).status).toBe(404);
    const malformed = await api(`/approvals/${id}/decision`, { method: 'POST', body: '{"decision": "maybe"}' });
    expect(malformed.status).toBe(400);
    expect(JSON.stringify(await malformed.json())).toContain('decision');
    expect((await api(`/approvals/${id}/decision`, { method: 'POST', body: '{not json' })).status).toBe(400);
    expect((await fetch(`${gw.url}/api/approvals`)).status).toBe(401);
    const approved = await api(`/approvals/${id}/decision`, { method: 'POST', body: JSON.stringify({ decision: 'approve', reason: 'looks fine' }) });
    expect(approved.status).toBe(200);
    expect(textOf(await call)).toBe('via rest');
    await decidedSeen;
    socket.close();
    expect(messages.map((m) => m.type)).toEqual(expect.arrayContaining(['hello', 'created', 'decided']));
    expect(messages.find((m) => m.type === 'decided')?.approval).toMatchObject({ id, status: 'approved' });
    const again = await api(`/approvals/${id}/decision`, { method: 'POST', body: JSON.stringify({ decision: 'reject' }) });
    expect(again.status).toBe(409);
    expect(JSON.stringify(await again.json())).toContain('Already approved by web:admin');
  });

  it('needs every vote of a quorum, one vote per approver', async () => {
    const call = rawCall(client, 'test__log', { message: 'two keys' });
    const id = await pendingFor(gw, 'log');
    expect(await gw.service.decide(id, { decision: 'approve' }, { id: 'web:alice', via: 'web' })).toMatchObject({ ok: true, final: false });
    expect((await gw.service.get(id))?.status).toBe('pending');
    expect(await gw.service.decide(id, { decision: 'approve' }, { id: 'web:alice', via: 'slack' })).toMatchObject({ ok: false, code: 'ALREADY_VOTED' });
    expect(await gw.service.decide(id, { decision: 'approve', reason: 'second key' }, { id: 'web:bob', via: 'web' })).toMatchObject({ ok: true, final: true });
    expect(textOf(await call)).toBe('logged');
    const approval = await gw.service.get(id);
    expect(approval?.votes.map((v) => [v.approver, v.decision])).toEqual([['web:alice', 'approve'], ['web:bob', 'approve']]);
    expect(approval).toMatchObject({ status: 'approved', decidedBy: 'web:bob', reason: 'second key' });
  });

  it('refuses self-approval, non-approvers and a second decision, changing nothing', async () => {
    const call = rawCall(client, 'test__echo', { text: 'who decides' });
    const id = await pendingFor(gw, 'echo');
    expect(await gw.service.decide(id, { decision: 'approve' }, { id: 'web:mallory', via: 'web' })).toMatchObject({ ok: false, code: 'NOT_AN_APPROVER' });
    expect(await gw.service.decide(id, { decision: 'approve' }, { id: 'web:carol', via: 'web', grants: ['anonymous'] })).toMatchObject({ ok: false, code: 'SELF_APPROVAL' });
    expect((await gw.service.get(id))?.status).toBe('pending');
    await gw.service.decide(id, { decision: 'approve' }, { id: 'web:carol', via: 'web' });
    const late = await gw.service.decide(id, { decision: 'reject' }, { id: 'web:alice', via: 'web' });
    expect(late).toMatchObject({ ok: false, code: 'ALREADY_DECIDED', message: expect.stringMatching(/^Already approved by web:carol at \d{4}-/) });
    expect(textOf(await call)).toBe('who decides');
    expect(await gw.service.decide('no-such-id', { decision: 'approve' }, { id: 'web:alice', via: 'web' })).toMatchObject({ ok: false, code: 'NOT_FOUND' });
  });

  it('sends progress heartbeats while held, so a client that resets its timeout on progress outlasts its own timeout', async () => {
    const beats: unknown[] = [];
    const call = rawCall(client, 'test__progress', { steps: 1 }, { timeout: 400, resetTimeoutOnProgress: true, onprogress: (p) => void beats.push(p) });
    const id = await pendingFor(gw, 'progress');
    // Long past the client's own 400 ms timeout, kept alive by heartbeats.
    await expect.poll(() => beats.length, { timeout: 5000 }).toBeGreaterThan(15);
    await gw.service.decide(id, { decision: 'approve' }, { id: 'web:alice', via: 'web' });
    expect(textOf(await call)).toBe('done 1 steps');
    expect(beats[0]).toMatchObject({ progress: 1, message: `Awaiting human approval ${id}` });
  });

  it('cancels the approval when the client cancels the only call waiting on it; the upstream never runs', async () => {
    const before = await upstreamCalls(client, 'echo');
    const abort = new AbortController();
    const call = rawCall(client, 'test__echo', { text: 'never mind' }, { signal: abort.signal });
    const id = await pendingFor(gw, 'echo');
    abort.abort('user pressed stop');
    await expect(call).rejects.toThrow();
    await expect.poll(async () => (await gw.service.get(id))?.status).toBe('cancelled');
    expect((await gw.service.get(id))?.reason).toContain('user pressed stop');
    expect(await upstreamCalls(client, 'echo')).toBe(before);
  });

  it('applies on_timeout at expiry: reject returns a violation, approve runs the call', async () => {
    const rejected = rawCall(client, 'test__progress', { steps: 1 });
    const approved = rawCall(client, 'test__touch');
    const rejectId = await pendingFor(gw, 'progress');
    const approveId = await pendingFor(gw, 'touch');
    const expired = await gw.service.expireDue(new Date(Date.now() + 11 * 60_000));
    expect(expired.map((a) => a.id).sort()).toEqual([rejectId, approveId].sort());
    expect(textOf(await rejected)).toBe('Policy violation: No one approved the call within 10m, so it was not run.');
    expect(textOf(await approved)).toBe('touched');
  });

  it('lets exactly one of 200 racing decisions win; the upstream runs once', async () => {
    const call = rawCall(client, 'test__echo', { text: 'race' });
    const id = await pendingFor(gw, 'echo');
    const before = await upstreamCalls(client, 'echo');
    const actors = ['web:alice', 'web:bob', 'web:carol'];
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        gw.service.decide(id, { decision: i % 2 === 0 ? 'approve' : 'reject' }, { id: actors[i % 3]!, via: 'web' }),
      ),
    );
    expect(outcomes.filter((o) => o.ok && o.final)).toHaveLength(1);
    await call;
    expect(await upstreamCalls(client, 'echo')).toBeLessThanOrEqual(before + 1);
  });

  it('keeps a verifiable audit chain of all of it', async () => {
    await gw.audit.flush();
    const result = await verifyAuditLog(gw.database.db);
    expect(result.ok).toBe(true);
    const kinds = (await gw.database.db.query<{ kind: string }>('SELECT DISTINCT kind FROM audit_events')).map((r) => r.kind);
    expect(kinds).toEqual(expect.arrayContaining(['approval_requested', 'approved', 'rejected', 'expired', 'cancelled', 'executed', 'allowed']));
  });
});

describe('the synchronous cap', () => {
  let gw: ApprovalGateway;
  let client: Client;
  beforeAll(async () => {
    gw = await startApprovalGateway('pglite', POLICY, { syncCap: '200ms', heartbeat: '1h' });
    client = await gw.connect();
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await gw?.close();
  });

  it('tells a client without progress that the call awaits approval, and runs its retry once after approval', async () => {
    const first = await rawCall(client, 'test__echo', { text: 'later' });
    expect(first.isError).toBe(true);
    const { approvalId } = decision(first) as { approvalId: string };
    expect(textOf(first)).toContain(`awaits human approval (id ${approvalId}); approve it at http://console.example/approvals/${approvalId}`);
    expect((await gw.service.get(approvalId))?.status).toBe('pending');
    await gw.service.decide(approvalId, { decision: 'approve' }, { id: 'web:alice', via: 'web' });
    expect(textOf(await rawCall(client, 'test__echo', { text: 'later' }))).toBe('later');
    // Single use: the next identical call needs a new approval.
    const third = await rawCall(client, 'test__echo', { text: 'later' });
    expect((decision(third) as { approvalId: string }).approvalId).not.toBe(approvalId);
    expect(await upstreamCalls(client, 'echo')).toBe(1);
  });
});
