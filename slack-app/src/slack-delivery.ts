/**
 * Everything the app sends to Slack goes through the job queue, so a Slack outage or a 429 delays a message
 * but never blocks a decision or loses a request (the console keeps working from the database meanwhile). The
 * jobs a change needs are written with the change, to the outbox (`jobsFor`, ApprovalDesk.addChangeJobs): once,
 * by the instance that made it, and queued even if that instance dies right after its commit.
 *
 * Jobs carry ids only and read the approval when they run, so a late job draws the latest state, and a job run
 * on any instance draws the same thing. After drawing, a job reads the approval again and redraws if it changed
 * meanwhile: with two jobs racing (a vote's redraw and the decision's), the last word is always the newest
 * state, and a decision that lands while the request is being posted still removes its buttons.
 */
import type { webApi } from '@slack/bolt';

import type { Approval, ApprovalDesk, ApprovalEvent, ApprovalNotification, ChangeJobs } from '../../server/src/approval/approval.js';
import { type JobQueue, PermanentFailure, type RetryOptions } from '../../server/src/jobs/job-queue.js';
import type { OutboxJob } from '../../server/src/jobs/outbox.js';
import { executionReply, messageState, type SlackMessage } from './approval-message.js';
import { slackCall } from './slack-errors.js';

const SLACK_JOBS = {
  post: 'slack.post',
  redraw: 'slack.redraw',
  threadReply: 'slack.thread-reply',
  ephemeral: 'slack.ephemeral',
} as const;

/** 15 attempts, waits doubling from 1 s to at most 5 min: about 34 minutes, longer than a default 15-minute approval. */
const DELIVERY: RetryOptions = { attempts: 15, backoff: { type: 'exponential', delayMs: 1000, maxDelayMs: 300_000 } };
const DELIVERY_KINDS: Readonly<Record<string, RetryOptions>> = {
  [SLACK_JOBS.post]: DELIVERY,
  [SLACK_JOBS.redraw]: DELIVERY,
  [SLACK_JOBS.threadReply]: DELIVERY,
};
/** An ephemeral answer is only useful while the clicker is looking. */
const EPHEMERAL: RetryOptions = { attempts: 3, backoff: { type: 'exponential', delayMs: 1000 } };
/** Bounds the redraw loop; each round means the approval changed again while drawing. */
const MAX_REDRAWS = 5;

interface PostJob {
  approvalId: string;
  channel: string;
}
interface RedrawJob {
  approvalId: string;
}
interface ThreadReplyJob {
  approvalId: string;
  channel: string;
  ts: string;
}
interface EphemeralJob {
  channel: string;
  user: string;
  text: string;
}

export interface SlackDeliveryOptions {
  desk: ApprovalDesk;
  queue: JobQueue;
  client: webApi.WebClient;
  /** Where a request goes when its rule names no Slack channel. */
  approvalChannel: string;
  render(approval: Approval): SlackMessage;
}

/**
 * The Slack channels a request is posted to: the rule's `slack:<channel>` entries (`slack` alone meaning the
 * default), the default when the rule names no channel at all, none when it names only others (`web`).
 */
export function targetChannels(channels: readonly string[], approvalChannel: string): string[] {
  if (channels.length === 0) return [approvalChannel];
  const targets = new Set<string>();
  for (const channel of channels) {
    if (channel === 'slack') targets.add(approvalChannel);
    else if (channel.startsWith('slack:')) targets.add(channel.slice('slack:'.length));
  }
  return [...targets];
}

export class SlackDelivery implements ChangeJobs {
  readonly kinds = DELIVERY_KINDS;
  readonly #options: SlackDeliveryOptions;

  constructor(options: SlackDeliveryOptions) {
    this.#options = options;
    const { queue } = options;
    queue.handle<PostJob>(SLACK_JOBS.post, (job) => this.#post(job.payload));
    queue.handle<RedrawJob>(SLACK_JOBS.redraw, (job) => this.#redraw(job.payload));
    queue.handle<ThreadReplyJob>(SLACK_JOBS.threadReply, (job) => this.#threadReply(job.payload));
    queue.handle<EphemeralJob>(SLACK_JOBS.ephemeral, (job) => this.#ephemeral(job.payload));
  }

  /** The Slack work one approval change needs. */
  jobsFor({ type, approval }: ApprovalEvent): OutboxJob[] {
    switch (type) {
      case 'created':
        return this.#postJobs(approval);
      // One request, one message: an identical call waits on the decision already asked for, and the message says
      // how many calls do; a retry that reopens an abandoned approval takes its note away.
      case 'joined':
      case 'voted':
      case 'decided':
      case 'abandoned':
        return [redrawJob(approval)];
      case 'executed': {
        const replies = executionReply(approval) ? slackNotifications(approval) : [];
        return [
          redrawJob(approval),
          ...replies.map(({ channel, ts }): OutboxJob<ThreadReplyJob> => ({
            kind: SLACK_JOBS.threadReply,
            key: `slack:thread:${approval.id}:${channel}:${ts}`,
            payload: { approvalId: approval.id, channel, ts },
          })),
        ];
      }
    }
  }

  /** Posts the request now, outside any change (catching up after a restart). */
  async post(approval: Approval): Promise<void> {
    await this.#enqueue(this.#postJobs(approval));
  }

  /** Redraws every message of the approval now, outside any change (a click on a stale message). */
  async redraw(approval: Approval): Promise<void> {
    await this.#enqueue([redrawJob(approval)]);
  }

  async ephemeral(channel: string, user: string, text: string): Promise<void> {
    await this.#options.queue.enqueue<EphemeralJob>(SLACK_JOBS.ephemeral, { channel, user, text }, EPHEMERAL);
  }

  /**
   * Catches up after a restart: posts the open requests (pending, or abandoned and still decidable) that no Slack
   * message shows — the in-process queue forgets its jobs, a durable one may have given up during a long outage —
   * and redraws the abandoned ones that have a message, which still shows them as merely pending.
   */
  async catchUp(): Promise<{ posted: number; redrawn: number }> {
    const { desk } = this.#options;
    const open = [...(await desk.list({ status: 'pending', limit: 1000 })), ...(await desk.list({ status: 'abandoned', limit: 1000 }))];
    let posted = 0;
    let redrawn = 0;
    for (const approval of open) {
      if (slackNotifications(approval).length === 0) {
        await this.post(approval);
        posted += 1;
      } else if (approval.status === 'abandoned') {
        await this.redraw(approval);
        redrawn += 1;
      }
    }
    return { posted, redrawn };
  }

  #postJobs(approval: Approval): OutboxJob<PostJob>[] {
    return targetChannels(approval.spec.channels, this.#options.approvalChannel).map((channel) => ({
      kind: SLACK_JOBS.post,
      key: `slack:post:${approval.id}:${channel}`,
      payload: { approvalId: approval.id, channel },
    }));
  }

  async #enqueue(jobs: readonly OutboxJob[]): Promise<void> {
    for (const { kind, key, payload } of jobs) await this.#options.queue.enqueue(kind, payload, { ...DELIVERY_KINDS[kind], key });
  }

  async #post({ approvalId, channel }: PostJob): Promise<void> {
    const { desk, client, render } = this.#options;
    const approval = await desk.get(approvalId);
    // Jobs run at least once (the outbox may hand one over twice, catch-up may ask again): a channel that
    // already shows the request gets no second message.
    if (!approval || slackNotifications(approval).some((n) => n.channel === channel || n.requested === channel)) return;
    const message = render(approval);
    const posted = await slackCall(() =>
      client.chat.postMessage({ channel, text: message.text, blocks: message.blocks, unfurl_links: false, unfurl_media: false }),
    );
    if (!posted.channel || !posted.ts) throw new Error('chat.postMessage answered without channel and ts');
    const notification: ApprovalNotification = {
      kind: 'slack',
      channel: posted.channel,
      ts: posted.ts,
      ...(posted.channel === channel ? {} : { requested: channel }),
    };
    await desk.recordNotification(approvalId, notification);
    await this.#redrawWhileChanging(approvalId, [notification], messageState(approval));
  }

  async #redraw({ approvalId }: RedrawJob): Promise<void> {
    const approval = await this.#options.desk.get(approvalId);
    if (!approval) return;
    const messages = slackNotifications(approval);
    await this.#update(approval, messages);
    await this.#redrawWhileChanging(approvalId, messages, messageState(approval));
  }

  async #redrawWhileChanging(approvalId: string, messages: ApprovalNotification[], drawn: string): Promise<void> {
    for (let round = 0; round < MAX_REDRAWS; round++) {
      const latest = await this.#options.desk.get(approvalId);
      if (!latest || messageState(latest) === drawn) return;
      await this.#update(latest, messages);
      drawn = messageState(latest);
    }
  }

  async #update(approval: Approval, messages: ApprovalNotification[]): Promise<void> {
    const { client, render } = this.#options;
    const message = render(approval);
    // Each message on its own: one deleted or archived must not leave the others showing buttons. The job then
    // fails as the first failure says: retried (redrawing all, which is idempotent) unless every one is permanent.
    const failures: unknown[] = [];
    for (const { channel, ts } of messages) {
      await slackCall(() => client.chat.update({ channel, ts, text: message.text, blocks: message.blocks })).catch((error: unknown) => failures.push(error));
    }
    const first = failures.find((error) => !(error instanceof PermanentFailure)) ?? failures[0];
    if (first !== undefined) throw first;
  }

  async #threadReply({ approvalId, channel, ts }: ThreadReplyJob): Promise<void> {
    const approval = await this.#options.desk.get(approvalId);
    const reply = approval && executionReply(approval);
    if (!reply) return;
    await slackCall(() => this.#options.client.chat.postMessage({ channel, thread_ts: ts, text: reply.text, blocks: reply.blocks }));
  }

  async #ephemeral({ channel, user, text }: EphemeralJob): Promise<void> {
    await slackCall(() => this.#options.client.chat.postEphemeral({ channel, user, text }));
  }
}

function slackNotifications(approval: Approval): ApprovalNotification[] {
  return approval.notifications.filter((n) => n.kind === 'slack');
}

/** Keyed by the state drawn, so one change is drawn once however often it is asked for. */
function redrawJob(approval: Approval): OutboxJob<RedrawJob> {
  return { kind: SLACK_JOBS.redraw, key: `slack:redraw:${approval.id}:${messageState(approval)}`, payload: { approvalId: approval.id } };
}
