import type { IncomingMessage } from 'node:http';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Approval } from '../approval/approval.js';
import type { SessionResolver } from './api-auth.js';
import { type ApiServer, startApiServer } from './testing/api-server.js';
import { MemoryDesk } from './testing/memory-desk.js';

const TOKEN = 'test-admin-token-0123456789';
const ADMIN = { authorization: `Bearer ${TOKEN}` };
const JSON_HEADERS = { ...ADMIN, 'content-type': 'application/json' };

/** Cookie `session=alice` is alice's console session; anything else is no session. */
const sessions: SessionResolver = {
  resolve: async (req: IncomingMessage) =>
    req.headers.cookie === 'session=alice' ? { actor: { id: 'web:alice', via: 'web', grants: ['alice-laptop'] }, csrfToken: 'csrf-alice' } : undefined,
  stillLive: async (req: IncomingMessage) => req.headers.cookie === 'session=alice',
};

let desk: MemoryDesk;
let api: ApiServer;

async function call(path: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${api.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers };
}

function decide(id: string, body: unknown, headers: Record<string, string> = JSON_HEADERS) {
  return call(`/api/approvals/${id}/decision`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

describe('createApiRouter', () => {
  beforeEach(async () => {
    desk = new MemoryDesk();
    api = await startApiServer(desk, { adminToken: TOKEN, sessions });
  });
  afterEach(() => api.close());

  describe('when the caller is not authenticated', () => {
    it('answers 401 without credentials', async () => {
      const res = await call('/api/approvals');
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHORIZED');
      expect(res.body.error.message).toMatch(/Sign in to the console, or send "Authorization: Bearer <AIRLOCK_ADMIN_TOKEN>"/);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="airlock"');
    });

    it('answers 401 with a wrong token, even alongside a valid session cookie', async () => {
      const res = await call('/api/approvals', { headers: { authorization: 'Bearer nope', cookie: 'session=alice' } });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: { code: 'UNAUTHORIZED', message: 'Wrong admin token' } });
    });

    it('answers 401 to an unsupported Authorization scheme', async () => {
      const res = await call('/api/approvals', { headers: { authorization: `Basic ${TOKEN}` } });
      expect(res.status).toBe(401);
      expect(res.body.error.message).toMatch(/Unsupported Authorization header/);
    });

    it('authenticates before parsing a body or matching a route', async () => {
      expect((await decide('apr_1', '{not json', { 'content-type': 'application/json' })).status).toBe(401);
      expect((await call('/api/nowhere')).status).toBe(401);
    });
  });

  describe('when neither an admin token nor sessions are configured', () => {
    it('answers every request 401 saying how to configure AIRLOCK_ADMIN_TOKEN', async () => {
      await api.close();
      api = await startApiServer(desk, { adminToken: '' });
      for (const headers of [{}, ADMIN]) {
        const res = await call('/api/approvals', { headers });
        expect(res.status).toBe(401);
        expect(res.body.error.message).toBe('The API is not configured: set AIRLOCK_ADMIN_TOKEN and send "Authorization: Bearer <token>"');
      }
    });
  });

  describe('GET /api/approvals', () => {
    it('lists approvals oldest first, filtered by status and limited', async () => {
      const first = desk.add();
      const second = desk.add();
      desk.add({ status: 'approved' });
      const pending = await call('/api/approvals?status=pending', { headers: ADMIN });
      expect(pending.status).toBe(200);
      expect(pending.headers.get('cache-control')).toBe('no-store');
      expect(pending.body.approvals.map((a: Approval) => a.id)).toEqual([first.id, second.id]);
      expect(pending.body.approvals[0]).toEqual(first);
      const limited = await call('/api/approvals?limit=2', { headers: ADMIN });
      expect(limited.body.approvals).toHaveLength(2);
      // open: what a decision still applies to, abandoned ones among it.
      const abandoned = desk.add({ status: 'abandoned' });
      const open = await call('/api/approvals?status=open', { headers: ADMIN });
      expect(open.body.approvals.map((a: Approval) => a.id)).toEqual([first.id, second.id, abandoned.id]);
    });

    it('refuses an unknown status, naming the valid ones', async () => {
      const res = await call('/api/approvals?status=waiting', { headers: ADMIN });
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({
        code: 'BAD_REQUEST',
        message:
          'Invalid request query: "status" must be one of "pending", "approved", "rejected", "expired", "cancelled", "abandoned", "open" (got "waiting")',
      });
    });

    it('refuses a bad limit and unknown parameters', async () => {
      const bad = await call('/api/approvals?limit=lots&stauts=pending', { headers: ADMIN });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toBe(
        'Invalid request query: "limit" must be a whole number (got "lots"); unknown parameter "stauts" (expected "status", "limit")',
      );
      const tooBig = await call('/api/approvals?limit=5000', { headers: ADMIN });
      expect(tooBig.body.error.message).toBe('Invalid request query: "limit" must be at most 1000');
    });
  });

  describe('GET /api/approvals/:id', () => {
    it('returns the approval', async () => {
      const approval = desk.add();
      const res = await call(`/api/approvals/${approval.id}`, { headers: ADMIN });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(approval);
    });

    it('answers 404 for an unknown id', async () => {
      const res = await call('/api/approvals/apr_404', { headers: ADMIN });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: 'No approval "apr_404"' } });
    });
  });

  describe('POST /api/approvals/:id/decision', () => {
    it('approves as the built-in admin user through the API channel', async () => {
      const approval = desk.add();
      const res = await decide(approval.id, { decision: 'approve', reason: 'looks fine' });
      expect(res.status).toBe(200);
      expect(res.body.final).toBe(true);
      expect(res.body.approval).toMatchObject({ status: 'approved', decidedBy: 'web:admin', decidedVia: 'api', reason: 'looks fine' });
    });

    it('reports a vote that still waits for the quorum as not final', async () => {
      const approval = desk.add({ spec: { approvers: ['web:admin', 'web:alice'], quorum: 2 } });
      const res = await decide(approval.id, { decision: 'approve' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ final: false, approval: { status: 'pending', votes: [{ approver: 'web:admin' }] } });
      const again = await decide(approval.id, { decision: 'approve' });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('ALREADY_VOTED');
    });

    it('answers 409 to a second decision, saying who decided and when', async () => {
      const approval = desk.add();
      const first = await decide(approval.id, { decision: 'approve' });
      const second = await decide(approval.id, { decision: 'reject', reason: 'too late' });
      expect(second.status).toBe(409);
      expect(second.body.error.code).toBe('ALREADY_DECIDED');
      expect(second.body.error.message).toContain(`already decided by web:admin at ${first.body.approval.decidedAt}`);
      expect(second.body.approval.status).toBe('approved');
    });

    it('answers 404 for an unknown id', async () => {
      const res = await decide('apr_404', { decision: 'approve' });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    });

    it('answers 403 to someone the rule does not name, and changes nothing', async () => {
      const approval = desk.add({ spec: { approvers: ['web:alice'] } });
      const res = await decide(approval.id, { decision: 'approve' });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('NOT_AN_APPROVER');
      expect((await desk.get(approval.id))?.status).toBe('pending');
    });

    it('answers 403 to a console user deciding a call of their own grant', async () => {
      const approval = desk.add({ grant: 'alice-laptop', spec: { approvers: ['web:alice'] } });
      const res = await decide(approval.id, { decision: 'approve' }, { cookie: 'session=alice', 'x-csrf-token': 'csrf-alice', 'content-type': 'application/json' });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('SELF_APPROVAL');
    });

    describe('when the body is malformed', () => {
      it.each([
        ['malformed JSON', '{"decision": approve}', /^Malformed JSON in request body: /],
        ['an empty body', '', /^Invalid request body: "decision" is required: one of "approve", "reject"$/],
        ['a JSON string', '"approve"', /^Invalid request body: the body must be a JSON object \(got "approve"\)$/],
        ['an array', '[]', /^Invalid request body: the body must be a JSON object \(got an array\)$/],
        ['no decision', '{"reason":"ok"}', /^Invalid request body: "decision" is required: one of "approve", "reject"$/],
        ['an unknown decision', '{"decision":"yes"}', /^Invalid request body: "decision" must be one of "approve", "reject" \(got "yes"\)$/],
        ['a reason that is not text', '{"decision":"reject","reason":42}', /^Invalid request body: "reason" must be a string \(got 42\)$/],
        ['an unknown field', '{"decision":"reject","why":"x"}', /^Invalid request body: unknown field "why" \(expected "decision", "reason"\)$/],
      ])('answers 400 to %s, naming the problem', async (_case, body, message) => {
        const approval = desk.add();
        const res = await decide(approval.id, body);
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('BAD_REQUEST');
        expect(res.body.error.message).toMatch(message);
        expect((await desk.get(approval.id))?.status).toBe('pending');
      });

      it('answers 400 to a body not labelled JSON', async () => {
        const res = await decide(desk.add().id, '{"decision":"approve"}', { ...ADMIN, 'content-type': 'text/plain' });
        expect(res.status).toBe(400);
        expect(res.body.error.message).toBe('Expected a JSON request body: send {"decision":"approve"|"reject","reason":"…"} with Content-Type: application/json');
      });

      it('names the length limit of a reason', async () => {
        const res = await decide(desk.add().id, { decision: 'reject', reason: 'x'.repeat(2001) });
        expect(res.body.error.message).toBe('Invalid request body: "reason" must be at most 2000 characters');
      });

      it('answers 413 in JSON to a body over 64 kB', async () => {
        const res = await decide(desk.add().id, { decision: 'reject', reason: 'x'.repeat(70_000) });
        expect(res.status).toBe(413);
        expect(res.body).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'Request body too large: the limit is 64 kB' } });
      });
    });
  });

  describe('when a console session cookie authenticates', () => {
    const cookie = { cookie: 'session=alice', 'content-type': 'application/json' };

    it('reads without a CSRF token', async () => {
      expect((await call('/api/approvals', { headers: { cookie: 'session=alice' } })).status).toBe(200);
    });

    it('refuses a state change without the CSRF token', async () => {
      const approval = desk.add({ spec: { approvers: ['web:alice'] } });
      const res = await decide(approval.id, { decision: 'approve' }, cookie);
      expect(res.status).toBe(403);
      expect(res.body.error).toEqual({ code: 'FORBIDDEN', message: 'CSRF check failed: the X-CSRF-Token header is missing; reload the console and try again' });
      expect((await desk.get(approval.id))?.status).toBe('pending');
    });

    it('refuses a state change with a wrong CSRF token', async () => {
      const approval = desk.add({ spec: { approvers: ['web:alice'] } });
      const res = await decide(approval.id, { decision: 'approve' }, { ...cookie, 'x-csrf-token': 'csrf-mallory' });
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/X-CSRF-Token header is wrong/);
    });

    it('decides as the session user with the right CSRF token', async () => {
      const approval = desk.add({ spec: { approvers: ['web:alice'] } });
      const res = await decide(approval.id, { decision: 'reject', reason: 'no' }, { ...cookie, 'x-csrf-token': 'csrf-alice' });
      expect(res.status).toBe(200);
      expect(res.body.approval).toMatchObject({ status: 'rejected', decidedBy: 'web:alice', decidedVia: 'web' });
    });
  });

  describe('when something else goes wrong', () => {
    it('answers unknown routes with JSON 404', async () => {
      const res = await call('/api/nowhere', { headers: ADMIN });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: 'No API route GET /api/nowhere' } });
    });

    it('answers a desk failure with JSON 500 and no internals', async () => {
      desk.list = () => Promise.reject(new Error('connection to 10.0.0.5 refused'));
      const res = await call('/api/approvals', { headers: ADMIN });
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: { code: 'INTERNAL', message: 'Internal error; the gateway log has the details' } });
    });

    it('answers a session resolver failure with JSON, not an HTML page', async () => {
      await api.close();
      api = await startApiServer(desk, { sessions: { resolve: () => Promise.reject(new Error('session store down')), stillLive: () => Promise.reject(new Error('session store down')) } });
      const res = await call('/api/approvals', { headers: { cookie: 'session=alice' } });
      expect(res.status).toBe(500);
      expect(res.body.error.code).toBe('INTERNAL');
    });
  });
});
