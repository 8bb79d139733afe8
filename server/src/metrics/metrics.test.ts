import { describe, expect, it } from 'vitest';

import { createMetrics } from './metrics.js';

describe('createMetrics', () => {
  it('exposes held calls, call outcomes, decisions with latency, limiter results, job failures, queue depth and audit backlog', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const releaseOne = metrics.callHeld();
    metrics.callHeld();
    releaseOne();
    releaseOne();
    metrics.callEnded('executed');
    metrics.callEnded('denied');
    metrics.approvalDecided('approved', 42);
    metrics.limiterResult('denied');
    metrics.jobFailed('slack.post');
    metrics.observeQueueDepth(async () => 7);
    metrics.observeAuditBacklog(() => 12);
    const text = await metrics.registry.metrics();
    expect(text).toContain('airlock_held_calls 1');
    expect(text).toContain('airlock_tool_calls_total{outcome="executed"} 1');
    expect(text).toContain('airlock_decisions_total{status="approved"} 1');
    expect(text).toContain('airlock_decision_latency_seconds_bucket{le="60",status="approved"} 1');
    expect(text).toContain('airlock_decision_latency_seconds_bucket{le="30",status="approved"} 0');
    expect(text).toContain('airlock_limiter_results_total{result="denied"} 1');
    expect(text).toContain('airlock_job_failures_total{kind="slack.post"} 1');
    expect(text).toContain('airlock_queue_depth 7');
    expect(text).toContain('airlock_audit_backlog 12');
  });
});
