/**
 * Approve and reject controls for one approval, used by the queue and the approval page. Reject asks for a reason
 * first (the agent is told it); Enter sends it, Shift+Enter makes a new line, Escape goes back. The server's
 * refusals (not an approver, already decided, your own call) are shown next to the buttons.
 */
import type { Approval } from '../../server/src/approval/approval.js';
import { ApiError, decide } from './api.js';
import { h, uid } from './dom.js';

export interface DecisionControls {
  element: HTMLElement;
  approve(): void;
  startReject(): void;
}

export function decisionControls(approval: Approval, onDecided: (approval: Approval) => void): DecisionControls {
  const label = `${approval.tool} on ${approval.server}`;
  const error = h('p', { class: 'error', role: 'alert' });
  const reasonId = uid('reason');
  const reason = h('textarea', { id: reasonId, name: 'reason', rows: 2, maxlength: 2000, placeholder: 'e.g. not during the change freeze' });
  const approveButton = h('button', { type: 'button', class: 'button approve', 'aria-label': `Approve ${label}` }, 'Approve');
  const rejectButton = h('button', { type: 'button', class: 'button reject', 'aria-label': `Reject ${label}`, 'aria-expanded': 'false' }, 'Reject…');
  const buttons = h('div', { class: 'actions' }, approveButton, rejectButton);
  const cancel = h('button', { type: 'button', class: 'button quiet' }, 'Cancel');
  const form = h(
    'form',
    { class: 'reason-form', hidden: true },
    h('label', { for: reasonId }, 'Reason for rejecting (the agent sees it)'),
    reason,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button reject' }, 'Reject'), cancel),
  );

  let busy = false;
  const send = async (decision: 'approve' | 'reject') => {
    if (busy) return;
    busy = true;
    error.textContent = '';
    element.setAttribute('aria-busy', 'true');
    try {
      const outcome = await decide(approval.id, decision, decision === 'reject' ? reason.value.trim() : '');
      if (!outcome.final) error.textContent = 'Your approval is recorded; more approvers are needed.';
      onDecided(outcome.approval);
    } catch (thrown) {
      error.textContent = thrown instanceof ApiError ? thrown.message : 'The gateway could not be reached; try again.';
    } finally {
      busy = false;
      element.removeAttribute('aria-busy');
    }
  };
  const closeReject = () => {
    form.hidden = true;
    rejectButton.setAttribute('aria-expanded', 'false');
    rejectButton.focus();
  };
  const startReject = () => {
    form.hidden = false;
    rejectButton.setAttribute('aria-expanded', 'true');
    reason.focus();
  };

  approveButton.addEventListener('click', () => void send('approve'));
  rejectButton.addEventListener('click', startReject);
  cancel.addEventListener('click', closeReject);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void send('reject');
  });
  reason.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      closeReject();
    }
  });

  const element = h('div', { class: 'decide' }, buttons, form, error);
  return { element, approve: () => void send('approve'), startReject };
}
