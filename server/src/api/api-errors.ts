/**
 * The one error shape of `/api/*`: `{ error: { code, message } }` with the right status, never an HTML page or a
 * stack. Owns the mapping from thrown errors (AirlockError, body-parser failures, anything else) to that shape; the
 * routes own which refusals they send.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';

import type { DecideOutcome } from '../approval/approval.js';
import { type AirlockErrorCode, asAirlockError } from '../errors/airlock-error.js';
import type { Logger } from '../log/logger.js';

/** The desk's refusal codes travel as they are, so automation can tell "already decided" from "not yours". */
export type ApiErrorCode = AirlockErrorCode | Extract<DecideOutcome, { ok: false }>['code'] | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA_TYPE';

export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string };
}

export function apiErrorBody(code: ApiErrorCode, message: string): ApiErrorBody {
  return { error: { code, message } };
}

export function sendApiError(res: Response, status: number, code: ApiErrorCode, message: string, extra?: object): void {
  res.status(status).json({ ...apiErrorBody(code, message), ...extra });
}

/** Unmatched paths under the router answer in JSON too, instead of express's HTML "Cannot GET". */
export const apiNotFound: RequestHandler = (req, res) => {
  sendApiError(res, 404, 'NOT_FOUND', `No API route ${req.method} ${req.baseUrl}${req.path}`);
};

/** What body-parser throws carries `type` and `status`; see its README "Errors". */
interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
}

export function apiErrorHandler(options: { bodyLimitBytes: number; logger?: Logger | undefined }): ErrorRequestHandler {
  return (thrown: unknown, req, res, next) => {
    // Once the response has started only express can end it (by closing the connection).
    if (res.headersSent) {
      next(thrown);
      return;
    }
    const parserError = thrown as BodyParserError;
    switch (parserError.type) {
      case 'entity.too.large':
        sendApiError(res, 413, 'PAYLOAD_TOO_LARGE', `Request body too large: the limit is ${options.bodyLimitBytes / 1024} kB`);
        return;
      case 'entity.parse.failed':
        sendApiError(res, 400, 'BAD_REQUEST', `Malformed JSON in request body: ${parserError.message}`);
        return;
      case 'encoding.unsupported':
      case 'charset.unsupported':
        sendApiError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', parserError.message);
        return;
      case 'request.aborted':
      case 'request.size.invalid':
      case 'stream.encoding.set':
        sendApiError(res, 400, 'BAD_REQUEST', parserError.message);
        return;
    }
    const error = asAirlockError(thrown);
    if (error.httpStatus >= 500) {
      options.logger?.error({ err: thrown, method: req.method, path: req.originalUrl }, 'api request failed');
    }
    // An unexpected throw may carry SQL or paths; the log has it, the caller gets the code.
    const message = error.code === 'INTERNAL' ? 'Internal error; the gateway log has the details' : error.message;
    sendApiError(res, error.httpStatus, error.code, message);
  };
}
