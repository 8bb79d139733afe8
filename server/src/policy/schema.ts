/**
 * The policy format (DESIGN.md §4) as zod schemas: the single source of the policy types. A superset of
 * PolicyLayer's policy.json, so their documents parse unchanged. Every object is strict: an unknown or
 * misspelled key is a problem, never silently ignored. Schemas normalise as they parse (durations to ms,
 * `require-approval` to `require_approval`, argument paths to segments) so compile never re-validates.
 *
 * Positions, "did you mean" and cross-field checks live in problems.ts and checks.ts; this file says only
 * what a well-formed policy is.
 */
import * as z from 'zod';

import { parseArgPath, type ArgPath } from './arg-path.js';
import { compileRegex, OPS, REGEX_FLAGS } from './conditions.js';
import { didYouMean } from './suggest.js';
import { parseTimeout, parseWindow } from './window.js';

export const ACTIONS = ['allow', 'deny', 'require_approval'] as const;
export type Action = (typeof ACTIONS)[number];
export const SCOPES = ['grant', 'agent', 'session', 'global'] as const;
export type Scope = (typeof SCOPES)[number];
export const ON_EXCEED = ['deny', 'require_approval'] as const;
export const ON_TIMEOUT = ['reject', 'approve'] as const;
export const APPROVER_PREFIXES = ['slack:', 'group:', 'web:'] as const;
export const CHANNEL_KINDS = ['slack', 'web'] as const;

/** 15 minutes, DESIGN.md §4. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 15 * 60_000;

/** `require-approval` is accepted as a spelling of `require_approval` wherever an action is written. */
function actionOf<const T extends readonly string[]>(values: T) {
  return z
    .enum([...values, 'require-approval'])
    .transform((value) => (value === 'require-approval' ? 'require_approval' : value) as T[number]);
}

/** A value as it appears in the policy, for messages (JSON would print an overflowed 1e400 as null). */
function shown(value: unknown): string {
  const text = typeof value === 'number' ? String(value) : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function issue(ctx: z.RefinementCtx, message: string, path: PropertyKey[] = []): void {
  ctx.addIssue({ code: 'custom', message, path });
}

const argPathSchema = z.string().transform((text, ctx): { text: string; path: ArgPath } => {
  const parsed = parseArgPath(text);
  if (!parsed.ok) {
    issue(ctx, `path ${parsed.message}`);
    return z.NEVER;
  }
  return { text, path: parsed.path };
});

/** A tool key or `hide` entry: an upstream tool name, `server__tool`, or a glob with `*`. */
export const toolPatternSchema = z.string().superRefine((name, ctx) => {
  if (name.length === 0) issue(ctx, 'tool name must not be empty');
  else if (name.length > 256) issue(ctx, `tool name is ${name.length} characters long; the maximum is 256`);
  else if (/[\s\u0000-\u001f\u007f]/.test(name)) issue(ctx, `tool name ${JSON.stringify(name)} contains whitespace or control characters`);
});

const conditionSchema = z
  .strictObject({
    path: argPathSchema,
    op: z.enum(OPS),
    value: z.unknown().optional(),
    /** Extension: regex flags, any of i m s u. */
    flags: z.string().optional(),
    /** Extension: the text the agent sees when this condition decides the call. */
    reason: z.string().min(1).max(2000).optional(),
  })
  .superRefine(({ op, value, flags }, ctx) => {
    const needs = (what: string) => (value === undefined ? `missing required key "value": op "${op}" compares against ${what}` : `op "${op}" needs ${what} (got ${shown(value)})`);
    switch (op) {
      case 'exists':
        if (value !== undefined && typeof value !== 'boolean') issue(ctx, `op "exists" takes true, false, or no value (got ${shown(value)})`, ['value']);
        break;
      case 'in':
      case 'not_in':
        if (!Array.isArray(value)) issue(ctx, needs('a list, e.g. ["usd", "eur"]'), ['value']);
        else if (value.length === 0) issue(ctx, `op "${op}" has an empty list, which is almost certainly a mistake; list at least one value`, ['value']);
        break;
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte':
        if (typeof value !== 'number' || !Number.isFinite(value)) {
          const unquote = typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)) ? `; write it as ${value} without quotes` : '';
          issue(ctx, needs('a number') + unquote, ['value']);
        }
        break;
      case 'regex': {
        if (typeof value !== 'string') {
          issue(ctx, needs('a regular expression string'), ['value']);
          break;
        }
        const compiled = compileRegex(value, flags);
        if (!compiled.ok) issue(ctx, compiled.message, ['value']);
        break;
      }
      default:
        if (value === undefined) issue(ctx, needs('a value'), ['value']);
    }
    if (flags !== undefined) {
      if (op !== 'regex') issue(ctx, `"flags" only applies to op "regex"`, ['flags']);
      else if (![...flags].every((f) => (REGEX_FLAGS as readonly string[]).includes(f)) || new Set(flags).size !== flags.length) {
        issue(ctx, `flags must be distinct letters from "${REGEX_FLAGS.join('')}" (got "${flags}")`, ['flags']);
      }
    }
  });

const windowSchema = z.unknown().transform((value, ctx) => {
  if (value === undefined) {
    issue(ctx, 'missing required key "window"');
    return z.NEVER;
  }
  const parsed = parseWindow(value);
  if (!parsed.ok) {
    issue(ctx, `window ${parsed.message}`);
    return z.NEVER;
  }
  return parsed.ms;
});

const limitSchema = z.strictObject({
  counter: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'counter must be 1-128 letters, digits, or _ . : -'),
  window: windowSchema,
  max: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  scope: z.enum(SCOPES).default('grant'),
  /** Spend caps: the call costs the number at this argument path instead of 1. */
  increment_from: argPathSchema.optional(),
  on_exceed: actionOf(ON_EXCEED).default('deny'),
});

const approverSchema = z.string().superRefine((approver, ctx) => {
  const colon = approver.indexOf(':');
  const prefix = colon < 0 ? '' : approver.slice(0, colon + 1);
  const id = approver.slice(colon + 1);
  if (!(APPROVER_PREFIXES as readonly string[]).includes(prefix)) {
    const hint = colon < 0 && /^[UW][A-Z0-9]{2,}$/.test(approver) ? `; did you mean "slack:${approver}"?` : didYouMean(prefix, APPROVER_PREFIXES);
    issue(ctx, `approver must start with "slack:", "group:" or "web:" (got ${JSON.stringify(approver)})${hint}`);
  } else if (prefix === 'slack:' && !/^[UW][A-Z0-9]{2,}$/.test(id)) {
    issue(ctx, `"${approver}" is not a Slack user id (like "slack:U024BE7LH")`);
  } else if (prefix === 'group:' && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(id)) {
    issue(ctx, `"${approver}" is not a group name (letters, digits, _ . -)`);
  } else if (prefix === 'web:' && !/^[^\s]{1,254}$/.test(id)) {
    issue(ctx, `"${approver}" is not a console user name`);
  }
});

const channelSchema = z.string().superRefine((channel, ctx) => {
  const [kind = '', detail] = channel.split(/:(.*)/s);
  if (!(CHANNEL_KINDS as readonly string[]).includes(kind)) {
    issue(ctx, `channel must be "slack", "slack:<channel>" or "web" (got ${JSON.stringify(channel)})${didYouMean(kind, CHANNEL_KINDS)}`);
  } else if (detail !== undefined && (kind === 'web' || !/^[#A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/.test(detail))) {
    issue(ctx, `channel ${JSON.stringify(channel)} is malformed; write "slack", "slack:C0123ABC", "slack:#approvals" or "web"`);
  }
});

const timeoutSchema = z.unknown().transform((value, ctx) => {
  const parsed = parseTimeout(value);
  if (!parsed.ok) {
    issue(ctx, `timeout ${parsed.message}`);
    return z.NEVER;
  }
  return parsed.ms;
});

export const approvalSchema = z
  .strictObject({
    approvers: z.array(approverSchema).min(1),
    quorum: z.number().int().positive().optional(),
    timeout: timeoutSchema.optional(),
    /** `approve` only when written out: silence never approves. */
    on_timeout: z.enum(ON_TIMEOUT).optional(),
    /** Where the request is posted; empty means every configured channel. */
    channels: z.array(channelSchema).optional(),
  })
  .superRefine(({ approvers, quorum }, ctx) => {
    const seen = new Set<string>();
    approvers.forEach((approver, i) => {
      if (seen.has(approver)) issue(ctx, `approver "${approver}" is listed twice`, ['approvers', i]);
      seen.add(approver);
    });
    // A group may hold many people, so only a list of individuals bounds the quorum.
    const individuals = !approvers.some((a) => a.startsWith('group:'));
    if (quorum !== undefined && individuals && quorum > seen.size) {
      issue(ctx, `quorum ${quorum} can never be reached: only ${seen.size} approver(s) are listed`, ['quorum']);
    }
  })
  .transform(({ approvers, quorum, timeout, on_timeout, channels }) => ({
    approvers,
    quorum: quorum ?? 1,
    timeoutMs: timeout ?? DEFAULT_APPROVAL_TIMEOUT_MS,
    onTimeout: on_timeout ?? 'reject',
    channels: channels ?? [],
  }));

const conditionsSchema = z.array(conditionSchema);

export const toolRuleSchema = z.strictObject({
  /** `allow` when a tool is listed without one. */
  action: actionOf(ACTIONS).optional(),
  /** Text returned to the agent when this rule denies or holds a call. */
  reason: z.string().min(1).max(2000).optional(),
  description: z.string().optional(),
  deny_if: conditionsSchema.optional(),
  require: conditionsSchema.optional(),
  require_approval_if: conditionsSchema.optional(),
  limits: z.array(limitSchema).optional(),
  approval: approvalSchema.optional(),
});

export const policySchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().optional(),
  description: z.string().optional(),
  version: z.literal('1'),
  default: actionOf(ACTIONS),
  hide: z.array(toolPatternSchema).optional(),
  all_tools: z.strictObject({ limits: z.array(limitSchema).optional() }).optional(),
  tools: z.record(toolPatternSchema, toolRuleSchema).optional(),
  /** Extension: approvers for `require_approval` outcomes whose tool rule names none. */
  approval: approvalSchema.optional(),
});

/** The policy as written (what `source` holds). */
export type PolicyDocument = z.input<typeof policySchema>;
/** The policy after validation and normalisation (what compile reads). */
export type Policy = z.output<typeof policySchema>;
export type ToolRule = z.output<typeof toolRuleSchema>;
export type Condition = z.output<typeof conditionSchema>;
export type Limit = z.output<typeof limitSchema>;
export type ApprovalSpec = z.output<typeof approvalSchema>;
