import type { AuditLog } from '../audit/audit-log.js';
import type { Logger } from '../log/logger.js';
import { ProtocolError, ProtocolErrorCode } from '../proxy/sdk.js';
import type { Stage, StageResult } from './tool-call.js';

export const AUDIT_GATE_STAGE = 'audit';

const CONTINUE: StageResult = { kind: 'continue' };

/**
 * Refuses every tool call while the audit log's backlog is full: a call that ran now could not be recorded, and
 * keeping more events would only grow memory until the process died with all of them. The audit observer does
 * not record these refusals one by one; the log counts them in one event (AuditLog.noteRefusedCall).
 */
export function auditGateStage(audit: AuditLog, logger: Logger): Stage {
  return {
    name: AUDIT_GATE_STAGE,
    async run() {
      if (!audit.full) return CONTINUE;
      const cause = audit.lastWriteError?.message;
      if (audit.noteRefusedCall()) {
        logger.error({ buffered: audit.buffered, maxBacklog: audit.maxBacklog, err: cause }, 'audit backlog full: refusing tool calls until it is stored');
      }
      const why = cause ? `the last write failed: ${cause}` : 'the database is not keeping up';
      return {
        kind: 'error',
        error: new ProtocolError(
          ProtocolErrorCode.InternalError,
          `Airlock refuses tool calls while its audit log cannot be stored: the events waiting for the database reached the limit of ${audit.maxBacklog} (audit.maxBacklog), and ${why}. The call was not run; retry later.`,
          { airlock: { code: 'STORAGE_UNAVAILABLE' } },
        ),
      };
    },
  };
}
