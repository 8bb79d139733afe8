/**
 * Bolt checks a request's signature and that its timestamp is under 5 minutes old, but the same signed request
 * sent again within those 5 minutes passes both. This refuses a second request carrying a timestamp and
 * signature already seen, before Bolt reads it. The approval service's first-decision-wins still stands behind
 * it (and covers a replay sent to another instance, which this in-memory record does not see).
 *
 * Bolt reads the headers leniently (the timestamp as a number, the signature up to a second `=`), so one signed
 * request could be sent again spelled differently (`0<ts>`, `<ts>.0`, `v0=<hash>=x`) under another key. Slack
 * spells them one way only; any other spelling is refused here.
 */
import type { RequestHandler } from 'express';

import type { Logger } from '../../server/src/log/logger.js';

/** Bolt's window, plus a little for clock skew: older requests never get past Bolt, so they need no record. */
const REMEMBER_MS = 6 * 60_000;
/** Unix seconds, digits only; `v0=` and a hex SHA-256. */
const SLACK_TIMESTAMP = /^[1-9][0-9]{0,11}$/;
const SLACK_SIGNATURE = /^v0=[0-9a-f]{64}$/;

export function replayGuard(logger: Logger, now: () => number = Date.now): RequestHandler {
  /** `timestamp:signature` → when the record may be dropped. */
  const seen = new Map<string, number>();
  return (req, res, next) => {
    const signature = req.header('x-slack-signature');
    const timestamp = req.header('x-slack-request-timestamp');
    // Unsigned requests are Bolt's to refuse.
    if (!signature || !timestamp) return next();
    if (!SLACK_TIMESTAMP.test(timestamp) || !SLACK_SIGNATURE.test(signature)) {
      logger.warn({ timestamp }, 'slack: refused a request whose signature headers are not spelled as Slack spells them');
      res.status(401).end();
      return;
    }
    const at = now();
    for (const [key, forgetAt] of seen) if (forgetAt <= at) seen.delete(key);
    const key = `${timestamp}:${signature}`;
    if (seen.has(key)) {
      logger.warn({ timestamp }, 'slack: refused a replayed request');
      res.status(401).end();
      return;
    }
    seen.set(key, Math.max(at, Number(timestamp) * 1000 || 0) + REMEMBER_MS);
    next();
  };
}
