/**
 * The one internal error type. Every failure that crosses a module boundary is an AirlockError with a stable
 * code; the code decides the JSON-RPC error, HTTP status and exit status at the edges. Policy decisions (deny,
 * rate-limited, rejected) are values, never errors.
 */

export const AIRLOCK_ERROR_CODES = {
  CONFIG_INVALID: { httpStatus: 500, message: 'Configuration is invalid' },
  POLICY_INVALID: { httpStatus: 400, message: 'Policy is invalid' },
  UPSTREAM_UNAVAILABLE: { httpStatus: 502, message: 'Upstream server is unavailable' },
  UPSTREAM_TIMEOUT: { httpStatus: 504, message: 'Upstream server did not answer in time' },
  UPSTREAM_CRASHED: { httpStatus: 502, message: 'Upstream server exited during the call' },
  UNKNOWN_UPSTREAM: { httpStatus: 404, message: 'No such upstream server' },
  LIMITER_UNAVAILABLE: { httpStatus: 503, message: 'Rate limiter is unavailable' },
  STORAGE_UNAVAILABLE: { httpStatus: 503, message: 'Storage is unavailable' },
  NOT_FOUND: { httpStatus: 404, message: 'Not found' },
  BAD_REQUEST: { httpStatus: 400, message: 'Bad request' },
  UNAUTHORIZED: { httpStatus: 401, message: 'Unauthorized' },
  FORBIDDEN: { httpStatus: 403, message: 'Forbidden' },
  CONFLICT: { httpStatus: 409, message: 'Conflict' },
  INTERNAL: { httpStatus: 500, message: 'Internal error' },
} as const;

export type AirlockErrorCode = keyof typeof AIRLOCK_ERROR_CODES;

export class AirlockError extends Error {
  readonly code: AirlockErrorCode;
  readonly details: readonly string[];

  constructor(code: AirlockErrorCode, message?: string, options?: { cause?: unknown; details?: readonly string[] }) {
    super(message ?? AIRLOCK_ERROR_CODES[code].message, { cause: options?.cause });
    this.name = 'AirlockError';
    this.code = code;
    this.details = options?.details ?? [];
  }

  get httpStatus(): number {
    return AIRLOCK_ERROR_CODES[this.code].httpStatus;
  }
}

/** Wraps anything thrown into an AirlockError once, at a boundary. */
export function asAirlockError(error: unknown, code: AirlockErrorCode = 'INTERNAL'): AirlockError {
  if (error instanceof AirlockError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AirlockError(code, message, { cause: error });
}
