import { describe, expect, it } from 'vitest';

import type { Db } from '../db/db.js';
import { createReadiness } from './readiness.js';

const answering = { query: async () => [] } as unknown as Db;

describe('createReadiness', () => {
  it('is not ready while the audit log refuses calls for its backlog, and says why', async () => {
    const audit = { full: false, maxBacklog: 6 };
    const readiness = createReadiness(answering, undefined, audit);
    await expect(readiness.checks.audit!()).resolves.toBe('ok');
    audit.full = true;
    await expect(readiness.checks.audit!()).rejects.toThrow('tool calls are refused: 6 audit events wait to be written (audit.maxBacklog)');
    expect(Object.keys(readiness.checks)).toEqual(['database', 'audit']);
    await readiness.close();
  });
});
