import type { HeldCall } from '../approval-service.js';

/** A call held for `web:alice`'s approval, told apart from others by `text`; `spec` overrides the rule's block. */
export function heldCall(text: string, spec: Partial<HeldCall['spec']> = {}): HeldCall {
  return {
    server: 'payments',
    tool: 'create_charge',
    args: { text },
    caller: { grant: 'ci-bot' },
    callId: `call-${text}`,
    policyVersion: 'v1',
    rule: '/tools/create_charge/action',
    spec: { approvers: ['web:alice'], quorum: 1, timeoutMs: 60_000, onTimeout: 'reject', channels: [], ...spec },
  };
}
