/**
 * The JSON API under `/api` (DESIGN.md §6): list, read and decide approvals through the ApprovalDesk. Owns request
 * validation and the mapping of desk outcomes to HTTP; owns nothing about how approvals are stored or decided.
 */
import express, { type Router } from 'express';
import { z } from 'zod';

import { APPROVAL_LIST_STATUSES, type ApprovalDesk, DecisionBodySchema, type DecideOutcome } from '../approval/approval.js';
import { AirlockError } from '../errors/airlock-error.js';
import type { Logger } from '../log/logger.js';
import { type ApiAuth, requestActor } from './api-auth.js';
import { apiErrorHandler, apiNotFound, sendApiError } from './api-errors.js';
import { parseRequest } from './request-validation.js';

const API_BODY_LIMIT_BYTES = 64 * 1024;
/** A list without `limit` stops here, so a history of thousands is never sent by accident. */
const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 1000;

export interface ApiRouterOptions {
  /** Only reads and decisions: the API has no business with the gateway's side of approvals. */
  desk: Pick<ApprovalDesk, 'list' | 'get' | 'decide'>;
  auth: ApiAuth;
  /** Receives 5xx failures; callers only ever see the error code. */
  logger?: Logger | undefined;
}

const ListQuerySchema = z.strictObject({
  status: z.enum(APPROVAL_LIST_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(DEFAULT_LIST_LIMIT),
});

type Refusal = Extract<DecideOutcome, { ok: false }>['code'];
const REFUSAL_STATUS: Record<Refusal, number> = {
  NOT_FOUND: 404,
  ALREADY_DECIDED: 409,
  ALREADY_VOTED: 409,
  NOT_AN_APPROVER: 403,
  SELF_APPROVAL: 403,
};

/** The router the gateway mounts at `/api`; every route behind it is authenticated and answers JSON only. */
export function createApiRouter(options: ApiRouterOptions): Router {
  const { desk } = options;
  const router = express.Router();
  // Authenticate before reading a body, so anonymous callers cannot make us parse 64 kB.
  router.use(options.auth.middleware);
  // strict: false lets a JSON string or number through to validation, which names the problem better than the parser.
  router.use(express.json({ limit: API_BODY_LIMIT_BYTES, strict: false }));

  router.get('/approvals', async (req, res) => {
    const query = parseRequest(ListQuerySchema, req.query, 'query');
    res.json({ approvals: await desk.list(query) });
  });

  router.get('/approvals/:id', async (req, res) => {
    const approval = await desk.get(req.params.id);
    if (!approval) {
      sendApiError(res, 404, 'NOT_FOUND', `No approval "${req.params.id}"`);
      return;
    }
    res.json(approval);
  });

  router.post('/approvals/:id/decision', async (req, res) => {
    // express.json leaves the body undefined when the request has none or is not labelled JSON.
    if (req.body === undefined) {
      throw new AirlockError('BAD_REQUEST', 'Expected a JSON request body: send {"decision":"approve"|"reject","reason":"…"} with Content-Type: application/json');
    }
    const body = parseRequest(DecisionBodySchema, req.body, 'body');
    const outcome = await desk.decide(req.params.id, body, requestActor(res));
    if (outcome.ok) {
      res.json({ approval: outcome.approval, final: outcome.final });
      return;
    }
    // The approval rides along when the desk has it, so a client can show who decided instead of refetching.
    sendApiError(res, REFUSAL_STATUS[outcome.code], outcome.code, outcome.message, outcome.approval ? { approval: outcome.approval } : undefined);
  });

  router.use(apiNotFound);
  router.use(apiErrorHandler({ bodyLimitBytes: API_BODY_LIMIT_BYTES, logger: options.logger }));
  return router;
}
