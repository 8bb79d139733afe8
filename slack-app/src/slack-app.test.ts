/**
 * The Slack app against the real approval service (PGlite), a fake Slack Web API on loopback and correctly signed
 * interaction requests to its real `/slack/events` endpoint, Bolt's signature check on. The job queue runs on a
 * manual clock: a Retry-After or a backoff passes when the test advances it, and every wait is on a recorded call
 * or event, never a sleep.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import express from 'express';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import type { Approval, ApprovalDesk, ApprovalEvent, ApprovalNotification } from '../../server/src/approval/approval.js';
import { ApprovalService, type HeldCall } from '../../server/src/approval/approval-service.js';
import { AuditLog } from '../../server/src/audit/audit-log.js';
import type { JobQueue } from '../../server/src/jobs/job-queue.js';
import { MemoryJobQueue } from '../../server/src/jobs/memory-job-queue.js';
import { ManualScheduler } from '../../server/src/jobs/scheduler.js';
import { createLogger } from '../../server/src/log/logger.js';
import { systemClock } from '../../server/src/util/clock.js';
import { createTestDatabase, type TestDatabase } from '../../test/contract/test-databases.js';
import {
  blockActionsPayload,
  channelId,
  FakeSlack,
  findButton,
  postInteraction,
  signInteraction,
  type SlackCall,
  type SlackUser,
  viewSubmissionPayload,
} from '../../test/fixtures/fake-slack.js';
import { APPROVE_ACTION, REASON_ACTION, REASON_BLOCK, REJECT_ACTION } from './approval-message.js';
import { createSlackApp, SLACK_EVENTS_PATH, type SlackApp } from './create-slack-app.js';

const BOT_TOKEN = 'xoxb-airlock-test';
const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';
const DEFAULT_CHANNEL = 'C0APPROVALS';

const ALICE: SlackUser = { id: 'UALICE', username: 'alice' };
const ONCALL: SlackUser = { id: 'UONCALL1', username: 'olga' };
const MALLORY: SlackUser = { id: 'UMALLORY', username: 'mallory' };
/** Runs the agent behind grant `ci-bot`: may not approve that grant's calls. */
const REQUESTER: SlackUser = { id: 'UREQUESTER', username: 'rita' };

const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

let database: TestDatabase;
let audit: AuditLog;
/** The running harness's service; before one starts, a service without a queue, which writes no Slack jobs. */
let service: ApprovalService;

/** A service on the test database; with the queue the Slack app runs on, it writes Slack's jobs with its changes. */
function newService(queue?: JobQueue): ApprovalService {
  return new ApprovalService({
    db: database.db,
    audit,
    clock: systemClock,
    logger,
    groups: { oncall: [`slack:${ONCALL.id}`, `slack:${REQUESTER.id}`] },
    ...(queue ? { queue } : {}),
  });
}

beforeAll(async () => {
  database = await createTestDatabase('pglite');
  audit = new AuditLog(database.db, { flushDelayMs: 1 });
  service = newService();
}, 60_000);

afterAll(async () => {
  await service?.close();
  await audit?.close();
  await database?.destroy();
});

/** The desk the app sees: the real service, with its decisions counted and its recorded messages awaitable. */
class ObservedDesk implements ApprovalDesk {
  decideCalls = 0;
  readonly #notified = new Map<string, Array<(n: ApprovalNotification) => void>>();
  constructor(readonly inner: ApprovalDesk) {}
  list: ApprovalDesk['list'] = (filter) => this.inner.list(filter);
  get: ApprovalDesk['get'] = (id) => this.inner.get(id);
  subscribe: ApprovalDesk['subscribe'] = (listener) => this.inner.subscribe(listener);
  decide: ApprovalDesk['decide'] = (...args) => {
    this.decideCalls += 1;
    return this.inner.decide(...args);
  };
  addChangeJobs: ApprovalDesk['addChangeJobs'] = (jobs) => this.inner.addChangeJobs(jobs);
  recordNotification: ApprovalDesk['recordNotification'] = async (id, notification) => {
    await this.inner.recordNotification(id, notification);
    for (const wake of this.#notified.get(id)?.splice(0) ?? []) wake(notification);
  };
  /** Resolves once the app has recorded where it posted approval `id`. */
  async notified(id: string): Promise<ApprovalNotification> {
    const [recorded] = (await this.inner.get(id))?.notifications ?? [];
    if (recorded) return recorded;
    return new Promise((resolve) => this.#notified.set(id, [...(this.#notified.get(id) ?? []), resolve]));
  }
}

/** Resolves with the next event of `type` for approval `id`; register before causing it. */
function nextEvent(type: ApprovalEvent['type'], id: () => string): Promise<Approval> {
  return new Promise((resolve) => {
    const unsubscribe = service.subscribe((event) => {
      if (event.type === type && event.approval.id === id()) {
        unsubscribe();
        resolve(event.approval);
      }
    });
  });
}

let seq = 0;

async function requestApproval(options: { approvers?: string[]; channels?: string[]; quorum?: number; args?: Record<string, unknown> } = {}) {
  seq += 1;
  const call: HeldCall = {
    server: 'payments',
    tool: 'create_charge',
    args: options.args ?? { amount: 4200, currency: 'eur', customer: `cus_${seq}` },
    caller: { grant: 'ci-bot', agent: 'claude-code' },
    callId: `call-${seq}`,
    policyVersion: 'v1',
    rule: '/tools/create_charge',
    spec: {
      approvers: options.approvers ?? [`slack:${ALICE.id}`, 'group:oncall', 'web:carol'],
      quorum: options.quorum ?? 1,
      timeoutMs: 15 * 60_000,
      onTimeout: 'reject',
      channels: options.channels ?? [],
    },
  };
  return (await service.request(call)).approval;
}

interface Harness {
  fake: FakeSlack;
  scheduler: ManualScheduler;
  queue: MemoryJobQueue;
  desk: ObservedDesk;
  slack: SlackApp;
  /** `http://127.0.0.1:<port>/slack/events` */
  url: string;
  server: Server;
}

async function startHarness(): Promise<Harness> {
  const fake = await FakeSlack.start(BOT_TOKEN);
  const scheduler = new ManualScheduler();
  const queue = new MemoryJobQueue({ scheduler, logger });
  await service.close();
  service = newService(queue);
  await service.start();
  const desk = new ObservedDesk(service);
  const slack = createSlackApp({
    desk,
    queue,
    botToken: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    approvalChannel: DEFAULT_CHANNEL,
    apiUrl: fake.url,
    consoleUrl: 'https://airlock.example',
    logger,
    grantsOf: (actorId) => (actorId === `slack:${REQUESTER.id}` ? ['ci-bot'] : undefined),
  });
  const server = createServer(slack.requestListener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await slack.start();
  const { port } = server.address() as AddressInfo;
  return { fake, scheduler, queue, desk, slack, server, url: `http://127.0.0.1:${port}${SLACK_EVENTS_PATH}` };
}

async function stopHarness(h: Harness | undefined): Promise<void> {
  if (!h) return;
  await h.slack.stop();
  await h.queue.close();
  h.server.closeAllConnections();
  await new Promise((resolve) => h.server.close(resolve));
  await h.fake.close();
  // Leaves nothing open for the next test's catch-up to post.
  await service.expireDue(new Date(Date.now() + 365 * 86_400_000));
  await service.close();
}

function messageOf(call: SlackCall): { ts: string; text: unknown; blocks: unknown } {
  return { ts: String(call.response['ts']), text: call.args['text'], blocks: call.args['blocks'] };
}

function hasButtons(call: SlackCall): boolean {
  return JSON.stringify(call.args['blocks']).includes(APPROVE_ACTION);
}

describe('Slack app', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await stopHarness(h);
  });

  /** Waits for the request message of `approval` and returns it with the ts Slack gave it. */
  async function posted(approval: Approval, n = 1) {
    const call = await h.fake.waitFor('chat.postMessage', n);
    const notification = await h.desk.notified(approval.id);
    expect(notification.ts).toBe(call.response['ts']);
    return { call, notification, message: messageOf(call) };
  }

  function click(user: SlackUser, actionId: string, message: { ts: string; text: unknown; blocks: unknown }, value?: string) {
    return signInteraction(blockActionsPayload({ user, channel: DEFAULT_CHANNEL, message, actionId, ...(value ? { value } : {}) }), SIGNING_SECRET);
  }

  it('checks the token at start and posts one request with buttons and the console link; a joined call only redraws it', async () => {
    expect(h.fake.callsOf('auth.test')).toHaveLength(1);
    const approval = await requestApproval();
    const { call, notification } = await posted(approval);
    expect(call.authorization).toBe(`Bearer ${BOT_TOKEN}`);
    expect(call.args['channel']).toBe(DEFAULT_CHANNEL);
    expect(call.args['text']).toContain('Approval needed');
    const { button: approve } = findButton(call.args['blocks'], APPROVE_ACTION);
    const { button: reject } = findButton(call.args['blocks'], REJECT_ACTION);
    expect(approve).toMatchObject({ style: 'primary', value: approval.id });
    expect(reject).toMatchObject({ value: approval.id });
    expect(JSON.stringify(call.args['blocks'])).toContain(`"url":"https://airlock.example/approvals/${approval.id}"`);
    expect(notification).toEqual({ kind: 'slack', channel: DEFAULT_CHANNEL, ts: expect.any(String) });

    const joined = nextEvent('joined', () => approval.id);
    await service.request({
      server: approval.server,
      tool: approval.tool,
      args: approval.args,
      caller: { grant: approval.grant, agent: 'claude-code' },
      callId: 'call-joined',
      policyVersion: approval.policyVersion,
      rule: approval.rule,
      spec: approval.spec,
    });
    expect((await joined).joinedCount).toBe(2);
    const update = await h.fake.waitFor('chat.update');
    expect(update.args).toMatchObject({ channel: notification.channel, ts: notification.ts });
    expect(JSON.stringify(update.args['blocks'])).toContain('2 identical calls wait on this one decision.');
    await h.scheduler.advance(60_000);
    expect(h.fake.callsOf('chat.postMessage')).toHaveLength(1);
  });

  it('redraws the request of an approval its gateway abandoned as it stopped: buttons kept (still decidable), the reason shown', async () => {
    const approval = await requestApproval();
    await posted(approval);
    expect(await service.abandonHeld()).toBe(1);
    const update = await h.fake.waitFor('chat.update');
    expect(hasButtons(update)).toBe(true);
    expect(JSON.stringify(update.args['blocks'])).toContain('The gateway stopped while this call was held');

    // The agent's retry reopens it: the same message, pending again, the note gone.
    await service.request({
      server: approval.server,
      tool: approval.tool,
      args: approval.args,
      caller: { grant: approval.grant },
      callId: 'call-retry',
      policyVersion: approval.policyVersion,
      rule: approval.rule,
      spec: approval.spec,
    });
    const reopened = await h.fake.waitFor('chat.update', 2);
    expect(hasButtons(reopened)).toBe(true);
    expect(JSON.stringify(reopened.args['blocks'])).not.toContain('The gateway stopped while this call was held');
    expect(h.fake.callsOf('chat.postMessage')).toHaveLength(1);
  });

  it("posts to the rule's own channel", async () => {
    const approval = await requestApproval({ channels: ['slack:#payments-oncall'] });
    const { call, notification } = await posted(approval);
    expect(call.args['channel']).toBe('#payments-oncall');
    expect(notification.channel).toBe(channelId('#payments-oncall'));
  });

  it('posts once to a channel however often its post job runs (the outbox and the queue deliver at least once)', async () => {
    const approval = await requestApproval({ channels: ['slack', 'slack:#payments-oncall'] });
    await h.fake.waitFor('chat.postMessage', 2);
    await expect.poll(async () => (await service.get(approval.id))?.notifications.length).toBe(2);
    for (const channel of [DEFAULT_CHANNEL, '#payments-oncall']) await h.queue.enqueue('slack.post', { approvalId: approval.id, channel });
    // Both ran once they are gone; the approval's expiry job stays.
    await expect.poll(() => h.queue.depth()).toBe(1);
    expect(h.fake.callsOf('chat.postMessage').map((c) => c.args['channel'])).toEqual([DEFAULT_CHANNEL, '#payments-oncall']);
  });

  it('redraws every channel’s message after a decision though one of them is gone', async () => {
    const approval = await requestApproval({ channels: ['slack', 'slack:#payments-oncall'] });
    await expect.poll(async () => (await service.get(approval.id))?.notifications.length).toBe(2);
    h.fake.fail('chat.update', { error: 'message_not_found' });
    await service.decide(approval.id, { decision: 'reject', reason: 'no' }, { id: 'web:carol', via: 'web' });
    const second = await h.fake.waitFor('chat.update', 2);
    expect(hasButtons(second)).toBe(false);
    const updated = h.fake.callsOf('chat.update').map((c) => [c.args['channel'], c.ok]);
    expect(updated).toEqual([
      [channelId(DEFAULT_CHANNEL), false],
      [channelId('#payments-oncall'), true],
    ]);
    // The failure is permanent: nothing retries the message that is gone.
    await h.scheduler.advance(3_600_000);
    expect(h.fake.callsOf('chat.update')).toHaveLength(2);
  });

  it('approve click → decided as the clicker, message updated without buttons, execution outcome in the thread', async () => {
    const approval = await requestApproval();
    const { message, notification } = await posted(approval);
    const decided = nextEvent('decided', () => approval.id);
    const response = await postInteraction(h.url, click(ALICE, APPROVE_ACTION, message));
    expect(response.status).toBe(200);
    expect(await decided).toMatchObject({ status: 'approved', decidedBy: `slack:${ALICE.id}`, decidedVia: 'slack' });

    const update = await h.fake.waitFor('chat.update');
    expect(update.args).toMatchObject({ channel: notification.channel, ts: notification.ts });
    expect(hasButtons(update)).toBe(false);
    expect(JSON.stringify(update.args['blocks'])).toContain(`Approved* by <@${ALICE.id}> in Slack`);

    await service.recordExecution(approval.id, { ok: true, upstreamStatus: 'ok', durationMs: 140 });
    const reply = await h.fake.waitFor('chat.postMessage', 2);
    expect(reply.args).toMatchObject({ channel: notification.channel, thread_ts: notification.ts });
    expect(reply.args['text']).toBe(':white_check_mark: The call ran in 140 ms (ok).');
    expect(h.fake.callsOf('chat.postEphemeral')).toHaveLength(0);
  });

  it('reject click → modal → signed view_submission with a reason → rejected with that reason', async () => {
    const approval = await requestApproval();
    const { message } = await posted(approval);
    const rejectClick = click(ONCALL, REJECT_ACTION, message);
    expect((await postInteraction(h.url, rejectClick)).status).toBe(200);
    const open = await h.fake.waitFor('views.open');
    expect(open.args['trigger_id']).toBe((JSON.parse(decodeURIComponent(rejectClick.body.slice('payload='.length))) as { trigger_id: string }).trigger_id);
    const view = open.args['view'] as Record<string, unknown>;
    expect(view).toMatchObject({ callback_id: 'airlock:reject-reason', private_metadata: approval.id });
    expect((await service.get(approval.id))?.status).toBe('pending');

    const decided = nextEvent('decided', () => approval.id);
    const submission = viewSubmissionPayload({ user: ONCALL, view, values: { [REASON_BLOCK]: { [REASON_ACTION]: '  not during the freeze ' } } });
    expect((await postInteraction(h.url, signInteraction(submission, SIGNING_SECRET))).status).toBe(200);
    expect(await decided).toMatchObject({ status: 'rejected', decidedBy: `slack:${ONCALL.id}`, reason: 'not during the freeze' });
    const update = await h.fake.waitFor('chat.update');
    expect(hasButtons(update)).toBe(false);
    expect(JSON.stringify(update.args['blocks'])).toContain('>not during the freeze');
  });

  it('acknowledges a click before deciding it', async () => {
    const approval = await requestApproval();
    const { message } = await posted(approval);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const decide = h.desk.decide;
    h.desk.decide = async (...args) => {
      await gate;
      return decide(...args);
    };
    const decided = nextEvent('decided', () => approval.id);
    expect((await postInteraction(h.url, click(ALICE, APPROVE_ACTION, message))).status).toBe(200);
    expect((await service.get(approval.id))?.status).toBe('pending');
    release();
    expect((await decided).status).toBe('approved');
  });

  it("mounts on the gateway's own Express app: serves /slack/events, passes everything else on", async () => {
    const gateway = express();
    gateway.use(h.slack.requestListener!);
    gateway.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
    gateway.use((_req, res) => void res.status(404).json({ error: 'not found by the gateway' }));
    const outer = createServer(gateway);
    await new Promise<void>((resolve) => outer.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(outer.address() as AddressInfo).port}`;
    try {
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
      expect(await (await fetch(`${base}${SLACK_EVENTS_PATH}`)).json()).toEqual({ error: 'not found by the gateway' });
      const approval = await requestApproval();
      const { message } = await posted(approval);
      const decided = nextEvent('decided', () => approval.id);
      expect((await postInteraction(`${base}${SLACK_EVENTS_PATH}`, click(ALICE, APPROVE_ACTION, message))).status).toBe(200);
      expect((await decided).decidedBy).toBe(`slack:${ALICE.id}`);
    } finally {
      outer.closeAllConnections();
      await new Promise((resolve) => outer.close(resolve));
    }
  });

  describe('refuses, deciding nothing', () => {
    it('a forged signature and a stale timestamp (401, Bolt never runs the handler)', async () => {
      const approval = await requestApproval();
      const { message } = await posted(approval);
      const payload = blockActionsPayload({ user: ALICE, channel: DEFAULT_CHANNEL, message, actionId: APPROVE_ACTION });
      const forged = await postInteraction(h.url, signInteraction(payload, SIGNING_SECRET, { secret: 'not-the-secret' }));
      expect(forged.status).toBe(401);
      const stale = await postInteraction(h.url, signInteraction(payload, SIGNING_SECRET, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 }));
      expect(stale.status).toBe(401);
      const tampered = signInteraction(payload, SIGNING_SECRET);
      const body = tampered.body.replace(encodeURIComponent(ALICE.id), encodeURIComponent(ONCALL.id));
      expect((await postInteraction(h.url, { ...tampered, body })).status).toBe(401);
      expect(h.desk.decideCalls).toBe(0);
      expect((await service.get(approval.id))?.status).toBe('pending');
    });

    it('a replayed request: the same signature and timestamp again, however spelled, never reaches the service', async () => {
      const approval = await requestApproval({ quorum: 2, approvers: [`slack:${ALICE.id}`, 'group:oncall'] });
      const { message } = await posted(approval);
      const request = click(ALICE, APPROVE_ACTION, message);
      const voted = nextEvent('voted', () => approval.id);
      expect((await postInteraction(h.url, request)).status).toBe(200);
      expect((await voted).votes).toHaveLength(1);
      expect((await postInteraction(h.url, request)).status).toBe(401);
      // The same signed request spelled as Bolt would still read it, but Slack never writes.
      const timestamp = request.headers['x-slack-request-timestamp']!;
      const signature = request.headers['x-slack-signature']!;
      const respellings: Record<string, string>[] = [
        { 'x-slack-request-timestamp': `0${timestamp}` },
        { 'x-slack-request-timestamp': `${timestamp}.0` },
        { 'x-slack-signature': `${signature}=x` },
      ];
      for (const respelled of respellings) {
        expect((await postInteraction(h.url, { ...request, headers: { ...request.headers, ...respelled } })).status).toBe(401);
      }
      expect(h.desk.decideCalls).toBe(1);
      expect(await service.get(approval.id)).toMatchObject({ status: 'pending', votes: [{ approver: `slack:${ALICE.id}` }] });
      // The vote shows on the message, the buttons stay for the second approver.
      const update = await h.fake.waitFor('chat.update');
      expect(hasButtons(update)).toBe(true);
      expect(JSON.stringify(update.args['blocks'])).toContain(`1 of 2 approvals: <@${ALICE.id}>`);
    });

    it('an unknown approval id, with an ephemeral answer', async () => {
      const approval = await requestApproval();
      const { message } = await posted(approval);
      expect((await postInteraction(h.url, click(ALICE, APPROVE_ACTION, message, 'no-such-approval'))).status).toBe(200);
      const ephemeral = await h.fake.waitFor('chat.postEphemeral');
      expect(ephemeral.args).toMatchObject({ channel: DEFAULT_CHANNEL, user: ALICE.id });
      expect(ephemeral.args['text']).toBe(':grey_question: No approval "no-such-approval"');
      expect((await service.get(approval.id))?.status).toBe('pending');
    });

    it('a clicker who is not an approver, with an ephemeral answer and the message unchanged', async () => {
      const approval = await requestApproval();
      const { message } = await posted(approval);
      expect((await postInteraction(h.url, click(MALLORY, APPROVE_ACTION, message))).status).toBe(200);
      const ephemeral = await h.fake.waitFor('chat.postEphemeral');
      expect(ephemeral.args).toMatchObject({ channel: DEFAULT_CHANNEL, user: MALLORY.id });
      expect(ephemeral.args['text']).toContain(`:no_entry: slack:${MALLORY.id} is not an approver of this call`);
      expect((await service.get(approval.id))?.status).toBe('pending');
      expect(h.fake.callsOf('chat.update')).toHaveLength(0);
    });

    it('the requester, even though their group may approve', async () => {
      const approval = await requestApproval();
      const { message } = await posted(approval);
      expect((await postInteraction(h.url, click(REQUESTER, APPROVE_ACTION, message))).status).toBe(200);
      const ephemeral = await h.fake.waitFor('chat.postEphemeral');
      expect(ephemeral.args).toMatchObject({ user: REQUESTER.id });
      expect(ephemeral.args['text']).toContain('nobody approves their own call');
      expect((await service.get(approval.id))?.status).toBe('pending');
    });

    it('Reject on a request already decided opens no form and says who decided', async () => {
      const approval = await requestApproval();
      const { message } = await posted(approval);
      await service.decide(approval.id, { decision: 'approve' }, { id: 'web:carol', via: 'web' });
      await postInteraction(h.url, click(ONCALL, REJECT_ACTION, message));
      const ephemeral = await h.fake.waitFor('chat.postEphemeral');
      expect(ephemeral.args['text']).toMatch(/^:information_source: Already approved by web:carol at /);
      expect(h.fake.callsOf('views.open')).toHaveLength(0);
      expect((await service.get(approval.id))?.status).toBe('approved');
    });

    it('an expired trigger: the clicker is told to try again, nothing is decided', async () => {
      const approval = await requestApproval();
      const { message } = await posted(approval);
      h.fake.fail('views.open', { error: 'expired_trigger_id' });
      await postInteraction(h.url, click(ONCALL, REJECT_ACTION, message));
      const ephemeral = await h.fake.waitFor('chat.postEphemeral');
      expect(ephemeral.args).toMatchObject({ user: ONCALL.id, text: expect.stringContaining('Click Reject again') });
      expect((await service.get(approval.id))?.status).toBe('pending');
    });

    it('a reject form submitted by someone who may not decide', async () => {
      const approval = await requestApproval();
      const { message, notification } = await posted(approval);
      await postInteraction(h.url, click(MALLORY, REJECT_ACTION, message));
      const view = (await h.fake.waitFor('views.open')).args['view'] as Record<string, unknown>;
      const submission = viewSubmissionPayload({ user: MALLORY, view, values: { [REASON_BLOCK]: { [REASON_ACTION]: 'because' } } });
      expect((await postInteraction(h.url, signInteraction(submission, SIGNING_SECRET))).status).toBe(200);
      const ephemeral = await h.fake.waitFor('chat.postEphemeral');
      // A modal has no channel: the answer goes where the request was posted.
      expect(ephemeral.args).toMatchObject({ channel: notification.channel, user: MALLORY.id });
      expect((await service.get(approval.id))?.status).toBe('pending');
    });
  });

  it('double clicks and two approvers at once end in one decision, and every redraw shows that one', async () => {
    const approval = await requestApproval();
    const { message } = await posted(approval);
    const decided = nextEvent('decided', () => approval.id);
    const responses = await Promise.all([
      postInteraction(h.url, click(ALICE, APPROVE_ACTION, message)),
      postInteraction(h.url, click(ALICE, APPROVE_ACTION, message)),
      postInteraction(h.url, click(ONCALL, APPROVE_ACTION, message)),
    ]);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    const winner = (await decided).decidedBy;
    await h.fake.waitFor('chat.postEphemeral', 2);
    const refusals = h.fake.callsOf('chat.postEphemeral').map((c) => c.args['text']);
    expect(refusals).toEqual([expect.stringContaining(`Already approved by ${winner}`), expect.stringContaining(`Already approved by ${winner}`)]);
    await h.fake.waitFor('chat.update');
    await h.scheduler.advance(0);
    const updates = h.fake.callsOf('chat.update');
    for (const update of updates) {
      expect(hasButtons(update)).toBe(false);
      expect(JSON.stringify(update.args['blocks'])).toContain(`Approved* by <@${winner!.slice('slack:'.length)}>`);
    }
    expect(h.desk.decideCalls).toBe(3);
    expect(await service.get(approval.id)).toMatchObject({ status: 'approved', decidedBy: winner });
  });

  it('a decision made in the console updates the Slack message', async () => {
    const approval = await requestApproval();
    const { notification } = await posted(approval);
    await service.decide(approval.id, { decision: 'reject', reason: 'use the sandbox' }, { id: 'web:carol', via: 'web' });
    const update = await h.fake.waitFor('chat.update');
    expect(update.args).toMatchObject({ channel: notification.channel, ts: notification.ts });
    expect(hasButtons(update)).toBe(false);
    expect(JSON.stringify(update.args['blocks'])).toContain('Rejected* by carol (console) in the console');
  });

  it('expiry updates the Slack message', async () => {
    const approval = await requestApproval();
    await posted(approval);
    await service.expireDue(new Date(Date.parse(approval.expiresAt) + 1));
    const update = await h.fake.waitFor('chat.update');
    expect(JSON.stringify(update.args['blocks'])).toContain('*Expired*: nobody decided within 15 min');
  });

  it('Slack answering 429 (Retry-After: 7) then 200: delivered once, after the 7 s', async () => {
    h.fake.fail('chat.postMessage', { status: 429, retryAfter: 7 });
    const approval = await requestApproval();
    const refused = await h.fake.waitFor('chat.postMessage');
    expect(refused.status).toBe(429);
    // The post's retry, and the approval's expiry job (due on the system clock, far ahead of this scheduler's).
    await h.scheduler.untilTimerSet(2);
    expect(h.scheduler.pending()).toEqual([h.scheduler.now() + 7000, Date.parse(approval.expiresAt)]);
    await h.scheduler.advance(6999);
    expect(h.fake.callsOf('chat.postMessage')).toHaveLength(1);
    await h.scheduler.advance(1);
    const delivered = await h.fake.waitFor('chat.postMessage', 2);
    expect(delivered.ok).toBe(true);
    await h.desk.notified(approval.id);
    await h.scheduler.advance(600_000);
    expect(h.fake.callsOf('chat.postMessage').map((c) => c.status)).toEqual([429, 200]);
    expect((await service.get(approval.id))?.notifications).toHaveLength(1);
  });

  it('Slack answering 5xx: backs off exponentially until it answers; the approval stays decidable meanwhile', async () => {
    h.fake.fail('chat.postMessage', { status: 503 }, 2);
    const approval = await requestApproval();
    await h.fake.waitFor('chat.postMessage', 1);
    // Each retry, and the approval's expiry job.
    await h.scheduler.untilTimerSet(2);
    expect(h.scheduler.pending()).toEqual([h.scheduler.now() + 1000, Date.parse(approval.expiresAt)]);
    await h.scheduler.advance(1000);
    await h.fake.waitFor('chat.postMessage', 2);
    await h.scheduler.untilTimerSet(2);
    expect(h.scheduler.pending()).toEqual([h.scheduler.now() + 2000, Date.parse(approval.expiresAt)]);
    // Slack is down, the console is not: a decision lands before the request is ever shown.
    await service.decide(approval.id, { decision: 'approve' }, { id: 'web:carol', via: 'web' });
    await h.scheduler.advance(2000);
    const delivered = await h.fake.waitFor('chat.postMessage', 3);
    expect(delivered.ok).toBe(true);
    // Drawn from the row when it ran: the outcome, no buttons.
    expect(hasButtons(delivered)).toBe(false);
    expect(JSON.stringify(delivered.args['blocks'])).toContain('Approved* by carol (console)');
  });

  it('a permanent Slack error ends the delivery without retrying', async () => {
    h.fake.fail('chat.postMessage', { error: 'channel_not_found' });
    await requestApproval({ channels: ['slack:#gone'] });
    await h.fake.waitFor('chat.postMessage');
    await h.scheduler.advance(3_600_000);
    expect(h.fake.callsOf('chat.postMessage')).toHaveLength(1);
  });
});

describe('Slack app start', () => {
  it('posts open requests that no message shows yet (the in-process queue forgets its jobs on restart)', async () => {
    const approval = await requestApproval();
    const h = await startHarness();
    try {
      const call = await h.fake.waitFor('chat.postMessage');
      expect(findButton(call.args['blocks'], APPROVE_ACTION).button.value).toBe(approval.id);
      await h.desk.notified(approval.id);
    } finally {
      await stopHarness(h);
    }
  });

  it('serves no HTTP in Socket Mode', () => {
    const slack = createSlackApp({
      desk: service,
      queue: new MemoryJobQueue({ scheduler: new ManualScheduler() }),
      botToken: BOT_TOKEN,
      signingSecret: '',
      approvalChannel: DEFAULT_CHANNEL,
      consoleUrl: 'https://airlock.example',
      logger,
      socketMode: { appToken: 'xapp-test' },
    });
    expect(slack.requestListener).toBeUndefined();
  });

  it('refuses a bad bot token and an approval service without a queue, and starts anyway while Slack is unreachable', async () => {
    const fake = await FakeSlack.start('xoxb-another-token');
    const queue = new MemoryJobQueue({ scheduler: new ManualScheduler() });
    const desk = newService(queue);
    const options = { desk, queue, signingSecret: SIGNING_SECRET, approvalChannel: DEFAULT_CHANNEL, consoleUrl: 'https://airlock.example', logger };
    try {
      await expect(createSlackApp({ ...options, botToken: BOT_TOKEN, apiUrl: fake.url }).start()).rejects.toThrow('Slack refused SLACK_BOT_TOKEN: invalid_auth');
      fake.fail('auth.test', { status: 503 });
      const down = createSlackApp({ ...options, queue: new MemoryJobQueue({ scheduler: new ManualScheduler() }), botToken: 'xoxb-another-token', apiUrl: fake.url });
      await down.start();
      await down.stop();
      // Its changes could never carry Slack's jobs: nothing would ever be posted.
      const noQueue = createSlackApp({ ...options, desk: newService(), queue: new MemoryJobQueue(), botToken: 'xoxb-another-token', apiUrl: fake.url });
      await expect(noQueue.start()).rejects.toThrow('jobs that follow approval changes need a job queue');
    } finally {
      await desk.close();
      await fake.close();
    }
  });
});
