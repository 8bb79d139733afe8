/**
 * A 2026 client, the gateway and a 2026 upstream whose tool asks for input (MRTR): the client's retries carry the
 * round state the gateway sealed, so the rounds are the one call the pipeline admitted — one unit of quota, one
 * approval, one call in the audit log — and a state that does not belong to the retry is refused.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startApprovalGateway, type ApprovalGateway } from './helpers/approval-gateway.js';
import { connectClient, passthrough, rawCall, ROOT, startHttpUpstream, textOf } from './helpers/gateway.js';

const MODERN_UPSTREAM = `${ROOT}test/fixtures/modern-upstream.ts`;
const FINAL = 'answer=yes model=fine state=round-2:yes:round-1';

// Three names for one upstream, so each test has a rule of its own on the same two-round `confirm` tool.
const POLICY = {
  version: '1',
  default: 'allow',
  tools: {
    limited__confirm: { limits: [{ counter: 'confirm_rate', window: 'hour', max: 1, scope: 'grant' }] },
    approved__confirm: { action: 'require_approval', approval: { approvers: ['web:alice'] } },
  },
};

describe('a 2026 upstream asking a 2026 client mid-call', () => {
  let upstream: Awaited<ReturnType<typeof startHttpUpstream>>;
  let gw: ApprovalGateway;
  let client: Client;

  beforeAll(async () => {
    upstream = await startHttpUpstream(MODERN_UPSTREAM);
    const servers = { limited: { url: upstream.url }, approved: { url: upstream.url }, plain: { url: upstream.url } };
    gw = await startApprovalGateway('pglite', POLICY, { syncCap: '10m', heartbeat: '50ms' }, { config: { servers } });
    client = await connectClient(`${gw.url}/mcp`, { modern: true, capabilities: { elicitation: {}, sampling: {} } });
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { answer: 'yes' } }));
    client.setRequestHandler('sampling/createMessage', async () => ({ role: 'assistant', content: { type: 'text', text: 'fine' }, model: 'm' }));
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await gw?.close();
    await upstream?.close();
  });

  /** The first request of a call, whose input_required the test answers by hand. */
  const ask = async (name: string, args: Record<string, unknown>) =>
    (await client.request({ method: 'tools/call', params: { name, arguments: args } }, passthrough, { allowInputRequired: true })) as {
      resultType?: string;
      requestState?: string;
    };
  const answer = (name: string, args: Record<string, unknown>, requestState: string | undefined) =>
    client.request(
      { method: 'tools/call', params: { name, arguments: args, inputResponses: { answer: { action: 'accept', content: { answer: 'yes' } } }, requestState } },
      passthrough,
    ) as Promise<Record<string, unknown>>;

  it('spends one unit of quota on a call of two input rounds: the next call is the one rate-limited', async () => {
    expect(textOf(await rawCall(client, 'limited__confirm', { question: 'Ship it?' }))).toBe(FINAL);
    const second = await rawCall(client, 'limited__confirm', { question: 'Again?' });
    expect(second.isError).toBe(true);
    expect(textOf(second)).toContain('rate limit "confirm_rate" reached');
  });

  it('asks the human once: the rounds after the approval continue the approved call, audited as one', async () => {
    const call = rawCall(client, 'approved__confirm', { question: 'Deploy?' });
    let id = '';
    await expect
      .poll(async () => {
        id = (await gw.service.list({ status: 'pending' }))[0]?.id ?? '';
        return id;
      })
      .not.toBe('');
    await gw.service.decide(id, { decision: 'approve' }, { id: 'web:alice', via: 'web' });
    expect(textOf(await call)).toBe(FINAL);
    expect((await gw.service.list()).filter((approval) => approval.server === 'approved')).toHaveLength(1);

    await gw.audit.flush();
    const rows = await gw.database.db.query<{ canonical: string }>(`SELECT canonical FROM audit_events WHERE server = 'approved' ORDER BY seq`);
    const events = rows.map((row) => JSON.parse(row.canonical) as { kind: string; callId?: string; approvalId?: string; upstreamStatus?: string });
    expect(events.slice(0, 2).map((event) => event.kind)).toEqual(['approval_requested', 'approved']);
    // The approval service records the first request's outcome in a transaction of its own, so its place among the
    // rounds' records is not fixed; each names the approval, and the rounds name the call.
    const executed = events.slice(2);
    expect(executed.map((event) => `${event.kind}:${event.upstreamStatus}`).sort()).toEqual(['executed:input_required', 'executed:input_required', 'executed:ok']);
    expect(executed.every((event) => event.approvalId === id)).toBe(true);
    expect(new Set(executed.flatMap((event) => event.callId ?? [])).size).toBe(1);
  });

  it('hands the upstream its own state back, sealed on the way to the client', async () => {
    const first = await ask('plain__confirm', { question: 'Sealed?' });
    expect(first.resultType).toBe('input_required');
    expect(first.requestState).toMatch(/^airlock-round\./);
    expect(first.requestState).not.toContain('round-1');
    const second = (await client.request(
      {
        method: 'tools/call',
        params: { name: 'plain__confirm', arguments: { question: 'Sealed?' }, inputResponses: { answer: { action: 'accept', content: { answer: 'yes' } } }, requestState: first.requestState },
      },
      passthrough,
      { allowInputRequired: true },
    )) as { resultType?: string; inputRequests?: Record<string, unknown>; requestState?: string };
    // The upstream read `round-1` from the state (no state would have asked the first question again).
    expect(second).toMatchObject({ resultType: 'input_required', inputRequests: { model: { method: 'sampling/createMessage' } } });
    expect(second.requestState).toMatch(/^airlock-round\./);
  });

  it('gives a question asked without requestState one too, and the upstream none back', async () => {
    const first = await ask('plain__greet', {});
    expect(first).toMatchObject({ resultType: 'input_required', requestState: expect.stringMatching(/^airlock-round\./) });
    const done = await client.request(
      { method: 'tools/call', params: { name: 'plain__greet', arguments: {}, inputResponses: { name: { action: 'accept', content: { name: 'Ada' } } }, requestState: first.requestState } },
      passthrough,
    );
    expect(textOf(done as Record<string, unknown>)).toBe('hello Ada, state=undefined');
  });

  it('refuses a state that was altered, is for another tool or other arguments, or was used already', async () => {
    const args = { question: 'Mine?' };
    const first = await ask('plain__confirm', args);
    const altered = `${first.requestState!.slice(0, -4)}AAAA`;
    await expect(answer('plain__confirm', args, altered)).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining('requestState was not issued by this gateway, or was altered'),
      data: { airlock: { code: 'REQUEST_STATE_REFUSED', reason: 'altered' } },
    });
    await expect(answer('plain__echo', { text: 'x' }, first.requestState)).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining('requestState continues a call of tool "confirm" on server "plain", not of "echo" on "plain"'),
    });
    await expect(answer('limited__confirm', args, first.requestState)).rejects.toMatchObject({ data: { airlock: { reason: 'other_tool' } } });
    await expect(answer('plain__confirm', { question: 'Yours?' }, first.requestState)).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining('with other arguments'),
    });
    // The state is good for its own call, on the server's own endpoint too, and once.
    const onServer = await connectClient(`${gw.url}/mcp/plain`, { modern: true, capabilities: { elicitation: {}, sampling: {} } });
    try {
      const continued = (await onServer.request(
        { method: 'tools/call', params: { name: 'confirm', arguments: args, inputResponses: { answer: { action: 'accept', content: { answer: 'yes' } } }, requestState: first.requestState } },
        passthrough,
        { allowInputRequired: true },
      )) as { resultType?: string };
      expect(continued.resultType).toBe('input_required');
    } finally {
      await onServer.close();
    }
    await expect(answer('plain__confirm', args, first.requestState)).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining('requestState was used already'),
    });
  });

  it('still runs the pipeline for a state the gateway did not issue, as a new call', async () => {
    // A client sending an upstream's raw state is not continuing anything of ours: its call passes the limits like
    // any other, and the one unit of quota the first test's call left is spent.
    const raw = await answer('limited__confirm', { question: 'Raw?' }, 'round-1');
    expect(raw.isError).toBe(true);
    expect(textOf(raw)).toContain('rate limit "confirm_rate" reached');
  });
});
