import { describe, expect, it } from 'vitest';

import { AirlockError } from '../errors/airlock-error.js';
import type { LimitStore } from '../limits/limit-store.js';
import { createLogger } from '../log/logger.js';
import type { LimitRequest, PolicyDecision } from '../policy/index.js';
import { limitsStage } from './limits-stage.js';
import type { CallContext, ToolCall } from './tool-call.js';

const limit: LimitRequest = { key: 'k|grant:a', counter: 'k', windowMs: 60_000, max: 1, cost: 1, onExceed: 'deny', rule: '/tools/t/limits/0' };
const call = { callId: 'c1' } as ToolCall;
const context = (): CallContext =>
  ({ decision: { action: 'allow', rule: '/tools/t', reason: '', limits: [limit] } satisfies PolicyDecision } as unknown as CallContext);
const downStore: LimitStore = {
  consume: async () => {
    throw new AirlockError('LIMITER_UNAVAILABLE', 'Redis at 127.0.0.1:6390 did not answer');
  },
  refund: async () => undefined,
  close: async () => undefined,
};

describe('limitsStage', () => {
  describe('when the store is unreachable', () => {
    it('refuses the call with an error naming the limiter (fail closed, the default)', async () => {
      const result = await limitsStage(downStore, { failOpen: false, logger: createLogger('silent') }).run(call, context());
      expect(result.kind).toBe('error');
      expect(result.kind === 'error' && result.error.message).toContain('Rate limiter unavailable, so the call was not run: Redis at 127.0.0.1:6390');
    });

    it('lets the call through when the operator chose fail-open', async () => {
      const result = await limitsStage(downStore, { failOpen: true, logger: createLogger('silent') }).run(call, context());
      expect(result).toEqual({ kind: 'continue' });
    });
  });
});
