/**
 * `GET /api/policy`: the policy in force (as written, read-only), the problems of a refused reload, and every
 * upstream tool with the decision the policy gives it and the rule that gives it. Reads only.
 */
import express, { type Router } from 'express';

import type { ApiAuth } from '../api/api-auth.js';
import type { CompiledPolicy } from '../policy/index.js';
import type { PolicyRefusal } from '../policy/policy-watcher.js';
import type { UpstreamCatalog } from './upstream-tools.js';

/** The PolicyWatcher as the console sees it. */
export interface ConsolePolicySource {
  current(): CompiledPolicy | undefined;
  readonly path?: string;
  readonly refusal?: PolicyRefusal | undefined;
}

/** What a call to one tool meets before its arguments are looked at. */
export interface ToolDecision {
  name: string;
  description?: string;
  decision: 'allow' | 'deny' | 'require_approval' | 'hidden';
  /** JSON Pointer of the rule (or hide entry) that governs the tool. */
  rule: string;
  /** Conditions on the arguments that can change the decision (deny_if, require, require_approval_if). */
  conditions: number;
  limits: number;
  approvers?: readonly string[];
  /** What a denied agent is told. */
  reason?: string;
}

/** The body of `GET /api/policy`, as the console reads it. */
export interface PolicyView {
  policy: { path: string | null; version: string; default: string; source: unknown } | null;
  /** The last reload the watcher refused; the policy above stays in force. */
  refusal: { at: string; problems: string[] } | null;
  servers: { name: string; error: string | null; tools: ToolDecision[] }[];
}

export function createPolicyRoutes(options: { policy?: ConsolePolicySource | undefined; auth: ApiAuth; catalogs: () => Promise<UpstreamCatalog[]> }): Router {
  const router = express.Router();
  router.get('/policy', options.auth.middleware, async (_req, res) => {
    const policy = options.policy?.current();
    const catalogs = await options.catalogs();
    const refusal = options.policy?.refusal;
    const view: PolicyView = {
      policy: policy ? { path: options.policy?.path ?? null, version: policy.version, default: policy.defaultAction, source: policy.source } : null,
      refusal: refusal ? { at: refusal.at.toISOString(), problems: refusal.problems } : null,
      servers: catalogs.map((catalog) => ({
        name: catalog.server,
        error: catalog.error ?? null,
        tools: catalog.tools.map((tool) => decide(policy, catalog.server, tool)),
      })),
    };
    res.json(view);
  });
  return router;
}

function decide(policy: CompiledPolicy | undefined, server: string, tool: { name: string; description?: string }): ToolDecision {
  // Without a policy file every call is allowed (create-gateway.ts runs no policy stage).
  if (!policy) return { ...tool, decision: 'allow', rule: '', conditions: 0, limits: 0 };
  const found = policy.lookup(server, tool.name);
  if (found.kind === 'hidden') return { ...tool, decision: 'hidden', rule: found.pointer, conditions: 0, limits: 0 };
  const { rule } = found;
  return {
    ...tool,
    decision: rule.action,
    rule: rule.pointer,
    conditions: rule.denyIf.length + rule.require.length + rule.requireApprovalIf.length,
    limits: rule.limits.length,
    ...(rule.approval && (rule.action === 'require_approval' || rule.requireApprovalIf.length > 0) ? { approvers: rule.approval.approvers } : {}),
    ...(rule.action === 'deny' && rule.reason ? { reason: rule.reason } : {}),
  };
}
