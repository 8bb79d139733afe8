import { AirlockError } from '../errors/airlock-error.js';
import { formatDuration } from '../util/duration.js';
import { ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode, SdkHttpError } from './sdk.js';

/**
 * Turns whatever an upstream request threw into the JSON-RPC error the agent sees. An upstream's own
 * JSON-RPC error is relayed unchanged (code, message, data); a gateway-side failure becomes an internal error
 * whose message names the upstream and what happened, never an InvalidParams that would blame the caller.
 */
export function toDownstreamError(error: unknown, upstream: string, method: string, timeoutMs: number, closedBecause?: string): ProtocolError {
  if (error instanceof ProtocolError) return error;
  const airlock = classify(error, upstream, method, timeoutMs, closedBecause);
  return new ProtocolError(ProtocolErrorCode.InternalError, airlock.message, {
    airlock: { code: airlock.code, upstream },
  });
}

function classify(error: unknown, upstream: string, method: string, timeoutMs: number, closedBecause: string | undefined): AirlockError {
  if (error instanceof AirlockError) return error;
  if (error instanceof SdkError) {
    switch (error.code) {
      case SdkErrorCode.RequestTimeout:
        return new AirlockError('UPSTREAM_TIMEOUT', `Upstream "${upstream}" did not answer ${method} within ${formatDuration(timeoutMs)}`);
      case SdkErrorCode.ConnectionClosed:
      case SdkErrorCode.NotConnected:
        return new AirlockError(
          'UPSTREAM_CRASHED',
          `Upstream "${upstream}" closed its connection during ${method}${closedBecause ? ` (${closedBecause})` : ''}; it will be restarted`,
        );
      default:
        break;
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return new AirlockError('UPSTREAM_UNAVAILABLE', `Upstream "${upstream}" failed on ${method}: ${message}`, { cause: error });
}

export function isSessionExpired(error: unknown): boolean {
  return error instanceof SdkError && (error.data as { status?: unknown } | undefined)?.status === 404;
}

/**
 * Whether a failed 2025 `initialize` means "this server speaks only 2026-07-28": its unsupported-protocol-version
 * error, as a JSON-RPC error (stdio) or inside the HTTP 400 body (Streamable HTTP).
 */
export function refusesLegacyEra(error: unknown): boolean {
  if (error instanceof ProtocolError) return error.code === ProtocolErrorCode.UnsupportedProtocolVersion;
  if (!(error instanceof SdkHttpError)) return false;
  const { status, text } = (error.data ?? {}) as { status?: unknown; text?: unknown };
  if (status !== 400 || typeof text !== 'string') return false;
  try {
    return (JSON.parse(text) as { error?: { code?: unknown } }).error?.code === ProtocolErrorCode.UnsupportedProtocolVersion;
  } catch {
    return false;
  }
}
