/**
 * Web API failures in the job queue's terms. The WebClient is built with no retries of its own and rejects
 * rate-limited calls, so the queue owns every retry: Slack's `Retry-After` becomes a RetryAfter, an error that
 * no retry can fix ends the job, and anything else (5xx, network, Slack's own internal errors) backs off.
 */
import { webApi } from '@slack/bolt';

import { PermanentFailure, RetryAfter } from '../../server/src/jobs/job-queue.js';

/** Slack error codes that mean the request itself (or the app's setup) is wrong, not that Slack is busy. */
const PERMANENT = new Set([
  'account_inactive',
  'cant_update_message',
  'channel_not_found',
  'edit_window_closed',
  'invalid_arguments',
  'invalid_auth',
  'invalid_blocks',
  'invalid_blocks_format',
  'is_archived',
  'message_not_found',
  'missing_scope',
  'msg_too_long',
  'no_permission',
  'not_authed',
  'not_in_channel',
  'restricted_action',
  'token_expired',
  'token_revoked',
  'user_not_in_channel',
]);

/** Errors that mean the bot token itself is wrong: the gateway should say so at start. */
export const BAD_TOKEN = new Set(['account_inactive', 'invalid_auth', 'not_authed', 'token_expired', 'token_revoked']);

export function slackErrorCode(error: unknown): string | undefined {
  return error instanceof webApi.WebAPIPlatformError ? error.data.error : undefined;
}

function asJobError(error: unknown): unknown {
  if (error instanceof webApi.WebAPIRateLimitedError) return new RetryAfter(error.retryAfter * 1000, { cause: error });
  const code = slackErrorCode(error);
  if (code !== undefined && PERMANENT.has(code)) return new PermanentFailure(`Slack refused the call: ${code}`, { cause: error });
  if (error instanceof webApi.WebAPIHTTPError && error.statusCode < 500) {
    return new PermanentFailure(`Slack answered HTTP ${error.statusCode}`, { cause: error });
  }
  return error;
}

/** Runs one Web API call, translating its failure for the queue. */
export async function slackCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw asJobError(error);
  }
}
