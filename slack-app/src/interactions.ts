/**
 * Button clicks and the reject-reason modal. Each handler acknowledges first (Slack wants an answer within 3 s)
 * and decides after. Who may decide is the approval service's call alone: the clicker becomes `slack:<user id>`
 * and a refusal is shown to them ephemerally, changing nothing. A successful decision needs no reply here: the
 * service's `decided` event redraws the message for everyone, whoever decided and wherever.
 */
import type { App, BlockAction, ButtonAction, ViewSubmitAction } from '@slack/bolt';

import type { ApprovalDesk, DecisionBody } from '../../server/src/approval/approval.js';
import { isOpen } from '../../server/src/approval/open-statuses.js';
import type { Logger } from '../../server/src/log/logger.js';
import {
  APPROVE_ACTION,
  OPEN_ACTION,
  REASON_ACTION,
  REASON_BLOCK,
  REJECT_ACTION,
  REJECT_REASON_CALLBACK,
  refusalText,
  rejectReasonModal,
} from './approval-message.js';
import type { SlackDelivery } from './slack-delivery.js';

export interface InteractionOptions {
  desk: ApprovalDesk;
  delivery: SlackDelivery;
  /** Where to answer a modal submission, which comes from no channel, when the approval has no message. */
  approvalChannel: string;
  logger: Logger;
  /** The grants a person acts for; the service refuses their approval of those grants' calls. */
  grantsOf?: ((actorId: string) => readonly string[] | undefined) | undefined;
}

const COULD_NOT_DECIDE = ':warning: Airlock could not record your decision just now; nothing was changed. Try again, or use the console.';

export function registerInteractions(app: App, options: InteractionOptions): void {
  const { desk, delivery, logger } = options;

  /** Decides as the clicker; anything but success is told to the clicker alone. */
  async function decide(approvalId: string, body: DecisionBody, userId: string, channel: string | undefined): Promise<void> {
    // A modal submission comes from no channel: answer where the request was posted.
    const replyIn = async () =>
      channel ?? (await desk.get(approvalId).catch(() => undefined))?.notifications[0]?.channel ?? options.approvalChannel;
    const actorId = `slack:${userId}`;
    const grants = options.grantsOf?.(actorId);
    let outcome;
    try {
      outcome = await desk.decide(approvalId, body, grants ? { id: actorId, via: 'slack', grants } : { id: actorId, via: 'slack' });
    } catch (error) {
      logger.error({ err: error, approvalId, user: userId }, 'slack: deciding failed');
      await delivery.ephemeral(await replyIn(), userId, COULD_NOT_DECIDE);
      return;
    }
    if (outcome.ok) return;
    logger.info({ approvalId, user: userId, code: outcome.code }, 'slack: decision refused');
    // The clicker saw buttons on a decided request: the redraw that removes them may have been lost.
    if (outcome.code === 'ALREADY_DECIDED' && outcome.approval) await delivery.redraw(outcome.approval);
    await delivery.ephemeral(await replyIn(), userId, refusalText(outcome));
  }

  const clickedIn = (body: BlockAction): string | undefined => body.channel?.id ?? body.container?.channel_id;

  app.action<BlockAction<ButtonAction>>(APPROVE_ACTION, async ({ ack, body, action }) => {
    await ack();
    await decide(action.value ?? '', { decision: 'approve' }, body.user.id, clickedIn(body));
  });

  app.action<BlockAction<ButtonAction>>(REJECT_ACTION, async ({ ack, body, action, client }) => {
    await ack();
    const approvalId = action.value ?? '';
    const channel = clickedIn(body) ?? options.approvalChannel;
    let approval;
    try {
      approval = await desk.get(approvalId);
    } catch (error) {
      logger.error({ err: error, approvalId, user: body.user.id }, 'slack: reading the approval failed');
      await delivery.ephemeral(channel, body.user.id, COULD_NOT_DECIDE);
      return;
    }
    if (!approval || !isOpen(approval.status)) {
      // No form to fill for a request that is gone or decided: say so now, as a decision attempt would.
      await decide(approvalId, { decision: 'reject' }, body.user.id, channel);
      return;
    }
    try {
      // Straight away, not through the queue: a trigger_id expires seconds after the click.
      await client.views.open({ trigger_id: body.trigger_id, view: rejectReasonModal(approval) });
    } catch (error) {
      logger.warn({ err: error, approvalId, user: body.user.id }, 'slack: could not open the reject form');
      await delivery.ephemeral(channel, body.user.id, ':warning: Slack could not open the reject form in time. Click Reject again, or use the console.');
    }
  });

  app.action(OPEN_ACTION, async ({ ack }) => {
    await ack();
  });

  app.view<ViewSubmitAction>(REJECT_REASON_CALLBACK, async ({ ack, body, view }) => {
    await ack();
    const reason = view.state.values[REASON_BLOCK]?.[REASON_ACTION]?.value?.trim();
    await decide(view.private_metadata, reason ? { decision: 'reject', reason } : { decision: 'reject' }, body.user.id, undefined);
  });
}
