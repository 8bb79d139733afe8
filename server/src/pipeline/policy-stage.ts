/**
 * Asks the policy what to do with the call. A hidden tool is answered exactly like a tool that does not exist;
 * a denial becomes a policy-violation result; an allowed call continues with its decision (the limits stage
 * needs its matched limits). Without an approval service, a call that needs approval is refused: it must never
 * run without a human.
 */
import { evaluate, type CompiledPolicy } from '../policy/index.js';
import { ProtocolError, ProtocolErrorCode } from '../proxy/sdk.js';
import { violationResult } from './decision-result.js';
import type { Stage } from './tool-call.js';

export interface PolicySource {
  /** The policy in force, or undefined when none is configured (everything is allowed). */
  current(): CompiledPolicy | undefined;
}

export function policyStage(source: PolicySource): Stage {
  return {
    name: 'policy',
    async run(call, context) {
      const policy = source.current();
      if (!policy) return { kind: 'continue' };
      const decision = evaluate(policy, { caller: call.caller, server: call.server, tool: call.tool, args: call.args });
      context.decision = decision;
      switch (decision.action) {
        case 'allow':
          return { kind: 'continue' };
        case 'hide':
          return { kind: 'error', error: new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${call.exposedName}`) };
        case 'deny':
          return { kind: 'respond', outcome: 'denied', result: violationResult({ decision: 'deny', rule: decision.rule, reason: decision.reason }) };
        case 'require_approval':
          if (context.approvalAvailable && decision.approval) {
            context.approvalNeeded = { rule: decision.rule, spec: decision.approval };
            return { kind: 'continue' };
          }
          return {
            kind: 'respond',
            outcome: 'denied',
            result: violationResult({
              decision: 'deny',
              rule: decision.rule,
              // In service only `airlock run` builds a gateway without one, so the refusal says where holding works.
              reason: `${decision.reason} This gateway holds no calls for approval, so the call was not run (airlock run cannot: serve the server with airlock serve and launch airlock connect instead).`,
            }),
          };
      }
    },
  };
}
