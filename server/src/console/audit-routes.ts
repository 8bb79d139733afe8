/**
 * The audit log for the console, under `/api`: `GET /audit` (filtered, keyset-paged, newest first),
 * `GET /audit/export?format=jsonl|csv` (every row the same filters match, streamed) and `GET /audit/verify`
 * (the hash chain checked, as `airlock audit verify` does). Reads only; every role may use them.
 */
import express, { type Response, type Router } from 'express';
import { z } from 'zod';

import type { ApiAuth } from '../api/api-auth.js';
import { parseRequest } from '../api/request-validation.js';
import { AUDIT_EVENT_KINDS } from '../audit/audit-event.js';
import { type AuditQuery, queryAuditEvents } from '../audit/audit-store.js';
import { toExportLine } from '../audit/export.js';
import { verifyAuditLog, type VerifyResult } from '../audit/verify.js';
import type { Db } from '../db/db.js';
import { canonicalJson, type JsonObject } from '../util/canonical-json.js';
import type { Clock } from '../util/clock.js';
import { csvHeader, csvRow } from './audit-csv.js';

const text = z.string().min(1).max(1000).optional();
const FilterShape = {
  /** One kind or several, comma-separated. */
  kind: z
    .string()
    .transform((value) => value.split(',').filter(Boolean))
    .pipe(z.array(z.enum(AUDIT_EVENT_KINDS)))
    .optional(),
  server: text,
  tool: text,
  agent: text,
  grant: text,
  /** Who decided: `web:alice`, `slack:U…`; a bare name means a console user. */
  approver: text,
  approvalId: text,
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
};
const ListSchema = z.strictObject({
  ...FilterShape,
  beforeSeq: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
const ExportSchema = z.strictObject({ ...FilterShape, format: z.enum(['jsonl', 'csv']) });

type Filters = z.output<z.ZodObject<typeof FilterShape>>;

/** Rows per database read while exporting: the largest page queryAuditEvents gives. */
const EXPORT_PAGE = 500;

export function createAuditRoutes(options: { db: Db; auth: ApiAuth; clock: Clock }): Router {
  const { db, auth } = options;
  const router = express.Router();

  router.get('/audit', auth.middleware, async (req, res) => {
    const { beforeSeq, limit, ...filters } = parseRequest(ListSchema, req.query, 'query');
    res.json(await queryAuditEvents(db, { ...toQuery(filters), beforeSeq, limit }));
  });

  router.get('/audit/export', auth.middleware, async (req, res) => {
    const { format, ...filters } = parseRequest(ExportSchema, req.query, 'query');
    const stamp = new Date(options.clock.now()).toISOString().replace(/[:.]/g, '-');
    res.setHeader('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="airlock-audit-${stamp}.${format}"`);
    await streamExport(res, format, toQuery(filters), db);
  });

  // Verifying reads the whole log; concurrent requests share one run instead of each starting another.
  let running: Promise<VerifyResult & { checkedAt: string }> | undefined;
  router.get('/audit/verify', auth.middleware, async (_req, res) => {
    running ??= verifyAuditLog(db)
      .then((result) => ({ ...result, checkedAt: new Date(options.clock.now()).toISOString() }))
      .finally(() => {
        running = undefined;
      });
    res.json(await running);
  });

  return router;
}

function toQuery(filters: Filters): AuditQuery {
  const { kind, approver, from, to, ...exact } = filters;
  return {
    ...dropUndefined(exact),
    ...(kind?.length ? { kinds: kind } : {}),
    ...(approver !== undefined ? { actor: approver.includes(':') ? approver : `web:${approver}` } : {}),
    ...(from !== undefined ? { from: new Date(from) } : {}),
    ...(to !== undefined ? { to: new Date(to) } : {}),
  };
}

/**
 * Newest first, as the history shows them, a page at a time so a million rows never sit in memory. JSONL lines
 * are the verifiable export rows of `airlock audit export` (each checks as sha256(prev_hash + canonical) = hash).
 */
async function streamExport(res: Response, format: 'jsonl' | 'csv', query: AuditQuery, db: Db): Promise<void> {
  let closed = false;
  res.once('close', () => {
    closed = true;
  });
  const write = async (chunk: string) => {
    if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
  };
  if (format === 'csv') await write(csvHeader());
  let beforeSeq: number | undefined;
  do {
    const page = await queryAuditEvents(db, { ...query, beforeSeq, limit: EXPORT_PAGE });
    const lines = page.events.map((event) =>
      format === 'csv'
        ? csvRow(event)
        : // The stored canonical text is canonicalJson of the record, so serializing the parsed record gives it back.
          `${toExportLine({ seq: event.seq, prevHash: event.prevHash, hash: event.hash, canonical: canonicalJson(event.record as unknown as JsonObject) })}\n`,
    );
    if (lines.length > 0) await write(lines.join(''));
    beforeSeq = page.nextBeforeSeq ?? undefined;
  } while (beforeSeq !== undefined && !closed);
  res.end();
}

function dropUndefined<T extends Record<string, unknown>>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
