/**
 * What an audit event is: the input other modules hand to the audit log (validated with zod, since it crosses
 * a module boundary), and the record that is canonicalized and hashed. Owns the redaction of arguments on the
 * way in and the mapping of record fields to the console's filter columns; storage and chaining live elsewhere.
 */
import { z } from 'zod';

import { AirlockError } from '../errors/airlock-error.js';
import type { Clock } from '../util/clock.js';
import { hashJson, type JsonObject } from '../util/canonical-json.js';
import { AUDIT_EVENT_KINDS, type AuditEventKind } from './event-kinds.js';
import { redactArgs } from './redact.js';

export { AUDIT_EVENT_KINDS, type AuditEventKind };

const name = z.string().min(1).max(1000);

export const auditEventSchema = z.strictObject({
  kind: z.enum(AUDIT_EVENT_KINDS),
  /** When it happened; the audit log stamps the time of `append` when absent. */
  occurredAt: z.date().optional(),
  /** Canonical upstream server and tool names, never the prefixed name the client saw. */
  server: name.optional(),
  tool: name.optional(),
  grant: name.optional(),
  agent: name.optional(),
  session: name.optional(),
  callId: name.optional(),
  approvalId: name.optional(),
  policyVersion: name.optional(),
  /** JSON Pointer into the policy of the rule that decided, e.g. `/tools/create_charge/deny_if/0`. */
  rule: z.string().max(1000).optional(),
  reason: z.string().max(10_000).optional(),
  /** Who decided: `slack:U024BE7LH`, `web:alice`, `system`. */
  actor: name.optional(),
  /** Through which channel: `slack`, `web`, `api`, `timer`. */
  via: name.optional(),
  /** The call's raw arguments. Redacted before anything is stored; only their hash is kept whole. */
  args: z.record(z.string(), z.json()).optional(),
  /** `executed` events: `ok`, `tool_error`, `jsonrpc_error:-32603`, `timeout`, … */
  upstreamStatus: name.optional(),
  durationMs: z.number().nonnegative().optional(),
  /** Anything else worth keeping (limit name, retryAfterSeconds, joined count, …). */
  detail: z.record(z.string(), z.json()).optional(),
});
export type AuditEvent = z.input<typeof auditEventSchema>;

/** The event as hashed, minus what only the append transaction can assign (seq, ts). */
export interface PreparedAuditEvent {
  /** ISO time the event happened. */
  occurredAt: string;
  kind: AuditEventKind;
  server?: string;
  tool?: string;
  grant?: string;
  agent?: string;
  session?: string;
  callId?: string;
  approvalId?: string;
  policyVersion?: string;
  rule?: string;
  reason?: string;
  actor?: string;
  via?: string;
  args?: JsonObject;
  argsHash?: string;
  upstreamStatus?: string;
  durationMs?: number;
  detail?: JsonObject;
}

/**
 * The hashed record. `ts` is when the log recorded the event and never decreases along seq, so a time range
 * is a seq range; it equals the time the event happened, except when an event reaches the log after a later
 * one (buffered through an outage, or written by another gateway process first). Only then does the record
 * keep `occurredAt` as well.
 */
export interface AuditRecord extends Omit<PreparedAuditEvent, 'occurredAt'> {
  seq: number;
  ts: string;
  occurredAt?: string;
}

/** A checked event with its time fixed, waiting to be redacted and written. */
export interface ValidatedAuditEvent extends Omit<z.output<typeof auditEventSchema>, 'occurredAt'> {
  occurredAt: string;
}

/**
 * Validates an event and fixes its time. An invalid event is the caller's bug, so it throws right there
 * (INTERNAL, every problem listed) rather than failing a batch write later. Cheap: redaction and hashing, the
 * costly part, wait for `prepareAuditEvent` on the write path.
 */
export function validateAuditEvent(event: AuditEvent, clock: Clock): ValidatedAuditEvent {
  const parsed = auditEventSchema.safeParse(event);
  if (!parsed.success) {
    throw new AirlockError('INTERNAL', 'Invalid audit event', {
      details: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`),
    });
  }
  // zod's output is a new object, so it is completed in place: on this path (twice per allowed call) a spread plus
  // one more property measured several times the cost of the whole validation.
  const validated = parsed.data as unknown as ValidatedAuditEvent;
  validated.occurredAt = (parsed.data.occurredAt ?? new Date(clock.now())).toISOString();
  return validated;
}

/** Redacts the arguments (keeping the hash of the originals): after this nothing secret is left in the event. */
export function prepareAuditEvent(event: ValidatedAuditEvent, keepArgValues: boolean): PreparedAuditEvent {
  const { args } = event;
  if (args === undefined) return event;
  return Object.assign({}, event, { args: redactArgs(args, { keepValues: keepArgValues }), argsHash: hashJson(args) });
}

/** The columns the console filters on, copied out of the record; verify checks they still agree with it. */
export interface AuditColumns {
  ts: string;
  kind: string;
  server: string | null;
  tool: string | null;
  grant_name: string | null;
  agent: string | null;
  approval_id: string | null;
  actor: string | null;
}

export function auditColumns(record: {
  ts: string;
  kind: string;
  server?: string;
  tool?: string;
  grant?: string;
  agent?: string;
  approvalId?: string;
  actor?: string;
}): AuditColumns {
  return {
    ts: record.ts,
    kind: record.kind,
    server: record.server ?? null,
    tool: record.tool ?? null,
    grant_name: record.grant ?? null,
    agent: record.agent ?? null,
    approval_id: record.approvalId ?? null,
    actor: record.actor ?? null,
  };
}

/** Reads a stored record back (verify, console); loose, so rows written by a newer Airlock still parse. */
export const auditRecordSchema = z.looseObject({
  seq: z.number().int().positive(),
  ts: z.iso.datetime(),
  kind: z.string(),
  server: z.string().optional(),
  tool: z.string().optional(),
  grant: z.string().optional(),
  agent: z.string().optional(),
  approvalId: z.string().optional(),
});
export type AuditRecordFields = z.infer<typeof auditRecordSchema>;
