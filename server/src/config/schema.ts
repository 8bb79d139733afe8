import { z } from 'zod';

import { parseByteSize } from '../util/byte-size.js';
import { MAX_TIMER_MS, parseDuration } from '../util/duration.js';

/**
 * The configuration file's schema: the single source of the config types. Upstream names become tool
 * prefixes (`name__tool`), so they may not contain "__" — that keeps the split of an exposed name unambiguous.
 */

/**
 * A duration, in ms. Each one in the config arms a timer, so one longer than a timer holds is refused rather than
 * firing at once, and so is 0 unless the setting gives 0 a meaning (`zero` says which).
 */
function duration({ zero }: { zero?: 'allowed' } = {}) {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    const ms = parseDuration(value);
    const problem =
      ms === undefined
        ? `${JSON.stringify(value)} is not a duration (use seconds or "500ms", "30s", "5m", "1h")`
        : ms > MAX_TIMER_MS
          ? `${JSON.stringify(value)} is longer than the maximum of ${MAX_TIMER_MS}ms (about 24.8 days)`
          : ms === 0 && zero !== 'allowed'
            ? 'must be longer than 0'
            : undefined;
    if (problem === undefined) return ms!;
    ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  });
}

/** A size as written ("4mb", "512kb", "100"), kept as written for messages; parseByteSize reads it. */
const byteSize = z.string().refine(
  (value) => {
    try {
      return parseByteSize(value) > 0;
    } catch {
      return false;
    }
  },
  { error: (issue) => `"${String(issue.input)}" is not a size (use e.g. "512kb", "4mb")` },
);

const serverName = z
  .string()
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]|_(?!_))*$/, 'use letters, digits, "-" and single "_" (no "__")')
  .max(32);

const UPSTREAM_PROTOCOLS = ['auto', '2025-11-25', '2026-07-28'] as const;

export const UpstreamConfigSchema = z
  .object({
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
    url: z.url().optional(),
    headers: z.record(z.string(), z.string()).default({}),
    transport: z.enum(['streamable-http', 'sse']).default('streamable-http'),
    /** How long one upstream request may stay silent (progress resets it; waiting for the client to answer what it asked does not count). */
    timeout: duration().default(60_000),
    /**
     * The protocol revision spoken to this server. `auto` keeps 2025-era sessions on 2025-11-25 (byte for byte)
     * and moves to 2026-07-28 only when the server refuses 2025; 2026 requests negotiate.
     */
    protocol: z.enum(UPSTREAM_PROTOCOLS).default('auto'),
    /** The largest message taken from this server (one JSON answer, one SSE event, one stdio line). */
    maxMessageSize: byteSize.default('10mb'),
  })
  .strict()
  .superRefine((server, ctx) => {
    if (server.command === undefined && server.url === undefined) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'required (or "url" for an HTTP server)' });
    }
    if (server.command !== undefined && server.url !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'give either "command" (stdio) or "url" (HTTP), not both' });
    }
    if (server.transport === 'sse' && server.url !== undefined && server.protocol === '2026-07-28') {
      ctx.addIssue({ code: 'custom', path: ['protocol'], message: 'the HTTP+SSE transport predates 2026-07-28; use "streamable-http" or another protocol' });
    }
  });

export const ConfigSchema = z
  .object({
    $schema: z.string().optional(),
    listen: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8787),
        /** Extra Host header values accepted besides the bind address (DNS-rebinding protection). */
        allowedHosts: z.array(z.string()).optional(),
        allowedOrigins: z.array(z.string()).optional(),
        /** This instance's URL as the other instances reach it; they pass it the retries of calls it holds. */
        internalUrl: z.url({ protocol: /^https?$/ }).optional(),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8787 }),
    servers: z.record(serverName, UpstreamConfigSchema),
    policy: z.string().optional(),
    sessions: z
      .object({ idleTimeout: duration().default(30 * 60_000), maxRequestBody: byteSize.default('4mb') })
      .strict()
      .default({ idleTimeout: 30 * 60_000, maxRequestBody: '4mb' }),
    upstreams: z
      .object({ connectTimeout: duration().default(10_000) })
      .strict()
      .default({ connectTimeout: 10_000 }),
    /** API keys of HTTP callers, stored as SHA-256 hex digests. With none configured, HTTP callers are anonymous. */
    grants: z
      .array(
        z
          .object({
            name: z.string().min(1),
            agent: z.string().optional(),
            key_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'the SHA-256 of the key as 64 lowercase hex digits'),
            /** The people who run this agent (`web:alice`, `slack:U…`): they may never approve its calls. */
            owners: z.array(z.string().regex(/^(slack|web):.+$/, 'an approver id: "slack:U…" or "web:<user>"')).default([]),
          })
          .strict(),
      )
      .default([]),
    limits: z
      .object({ failOpen: z.boolean().default(false) })
      .strict()
      .default({ failOpen: false }),
    approvals: z
      .object({
        /**
         * How long one request is held before the agent is told the call awaits approval (below clients' 60 s);
         * 0 answers at once, for clients that cannot wait.
         */
        syncCap: duration({ zero: 'allowed' }).default(50_000),
        /** Progress notifications while a call is held, for clients that reset their timeout on progress. */
        heartbeat: duration().default(15_000),
        /** Keep argument values (secrets excepted) in the audit log instead of their hashes (approvals always show them). */
        keepArgValues: z.boolean().default(false),
      })
      .strict()
      .default({ syncCap: 50_000, heartbeat: 15_000, keepArgValues: false }),
    audit: z
      .object({
        /** Most audit events kept in memory while the database is away; once reached, tool calls are refused. */
        maxBacklog: z.number().int().positive().default(100_000),
      })
      .strict()
      .default({ maxBacklog: 100_000 }),
    /** `group:<name>` in a policy's approvers means every id listed here (`slack:U…`, `web:alice`). */
    groups: z.record(z.string().min(1), z.array(z.string().regex(/^(slack|web):.+$/, 'an approver id: "slack:U…" or "web:<user>"'))).default({}),
    slack: z.looseObject({}).optional(),
    console: z
      .object({ /** Public base URL of the console, for links in Slack and in agents' messages. */ url: z.url().optional() })
      .strict()
      .optional(),
    database: z
      .object({ url: z.string().optional(), dataDir: z.string().optional() })
      .strict()
      .optional(),
    redis: z
      .object({ /** REDIS_URL overrides it. */ url: z.string().optional() })
      .strict()
      .optional(),
  })
  .strict();

export type Config = z.output<typeof ConfigSchema>;
export type UpstreamConfig = z.output<typeof UpstreamConfigSchema>;
