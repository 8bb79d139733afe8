/**
 * End to end: an MCP SDK client's call waits in the gateway (real approval service on PGlite, real upstream)
 * while the request is posted to a fake Slack; a signed click on the posted message decides it, the client gets
 * the upstream's result (or the policy violation with the reason), and the thread gets the execution outcome.
 * The gateway mounts the Slack app at /slack/events, as `airlock serve` does.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MemoryJobQueue } from '../../server/src/jobs/memory-job-queue.js';
import { createLogger } from '../../server/src/log/logger.js';
import { startApprovalGateway, type ApprovalGateway } from '../../test/e2e/helpers/approval-gateway.js';
import { rawCall, textOf } from '../../test/e2e/helpers/gateway.js';
import { blockActionsPayload, FakeSlack, postInteraction, signInteraction, type SlackCall, viewSubmissionPayload } from '../../test/fixtures/fake-slack.js';
import { APPROVE_ACTION, REASON_ACTION, REASON_BLOCK, REJECT_ACTION } from './approval-message.js';
import { createSlackApp, SLACK_EVENTS_PATH, type SlackApp } from './create-slack-app.js';

const BOT_TOKEN = 'xoxb-e2e';
const SIGNING_SECRET = 'e2e-signing-secret';
const CHANNEL = 'C0APPROVALS';
const ALICE = { id: 'UALICE', username: 'alice' };

const POLICY = {
  version: '1',
  default: 'allow',
  tools: { echo: { action: 'require_approval', approval: { approvers: [`slack:${ALICE.id}`] } } },
};

describe('approving from Slack, end to end with the SDK client waiting', () => {
  let gw: ApprovalGateway;
  let client: Client;
  let fake: FakeSlack;
  let queue: MemoryJobQueue;
  let slack: SlackApp | undefined;
  let url: string;

  beforeAll(async () => {
    fake = await FakeSlack.start(BOT_TOKEN);
    queue = new MemoryJobQueue();
    gw = await startApprovalGateway('pglite', POLICY, { syncCap: '10m', heartbeat: '1s' }, { queue, routes: (service) => {
      slack = createSlackApp({
        desk: service,
        queue,
        botToken: BOT_TOKEN,
        signingSecret: SIGNING_SECRET,
        approvalChannel: CHANNEL,
        apiUrl: fake.url,
        consoleUrl: 'http://console.example',
        logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
      });
      return slack.requestListener ? [slack.requestListener] : [];
    } });
    url = `${gw.url}${SLACK_EVENTS_PATH}`;
    await slack!.start();
    client = await gw.connect();
  }, 60_000);

  afterAll(async () => {
    await slack?.stop();
    await queue?.close();
    await fake?.close();
    await client?.close();
    await gw?.close();
  });

  /** The `n`-th request message posted (replies in threads are not requests). */
  const requestMessage = (n: number) =>
    fake.waitFor('chat.postMessage', (c) => fake.callsOf('chat.postMessage').filter((p) => p.args['thread_ts'] === undefined)[n - 1] === c);

  const click = (message: SlackCall, actionId: string) =>
    signInteraction(
      blockActionsPayload({ user: ALICE, channel: CHANNEL, message: { ts: String(message.response['ts']), text: message.args['text'], blocks: message.args['blocks'] }, actionId }),
      SIGNING_SECRET,
    );

  it('approve: the held call gets the upstream result, the message shows who approved, the thread the outcome', async () => {
    const call = rawCall(client, 'test__echo', { text: 'ship it' });
    const request = await requestMessage(1);
    expect((await postInteraction(url, click(request, APPROVE_ACTION))).status).toBe(200);
    expect(textOf(await call)).toBe('ship it');

    const update = await fake.waitFor('chat.update', 1);
    expect(JSON.stringify(update.args['blocks'])).toContain(`Approved* by <@${ALICE.id}> in Slack`);
    const reply = await fake.waitFor('chat.postMessage', (c) => c.args['thread_ts'] !== undefined);
    expect(reply.args).toMatchObject({ channel: CHANNEL, thread_ts: request.response['ts'] });
    expect(String(reply.args['text'])).toMatch(/^:white_check_mark: The call ran in \d+ ms/);
    // The request message itself ends showing the outcome too.
    const executed = await fake.waitFor('chat.update', (c) => JSON.stringify(c.args['blocks']).includes('The call ran'));
    expect(executed.args['ts']).toBe(request.response['ts']);
  });

  it('reject with a reason: the held call gets a policy violation naming who and why', async () => {
    const call = rawCall(client, 'test__echo', { text: 'drop tables' });
    const request = await requestMessage(2);
    await postInteraction(url, click(request, REJECT_ACTION));
    const view = (await fake.waitFor('views.open')).args['view'] as Record<string, unknown>;
    const submission = viewSubmissionPayload({ user: ALICE, view, values: { [REASON_BLOCK]: { [REASON_ACTION]: 'not during the freeze' } } });
    expect((await postInteraction(url, signInteraction(submission, SIGNING_SECRET))).status).toBe(200);

    const result = await call;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe(`Policy violation: Rejected by slack:${ALICE.id}: not during the freeze`);
    const update = await fake.waitFor('chat.update', (c) => c.args['ts'] === request.response['ts']);
    expect(JSON.stringify(update.args['blocks'])).toContain('>not during the freeze');
  });
});
