/**
 * The gateway's Prometheus metrics (`/metrics`): one registry per gateway, so tests and several gateways in one
 * process do not share counters. Each part records through the narrow methods here; nothing else touches
 * prom-client.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  /** Calls currently held for a human. */
  callHeld(): () => void;
  /** A tools/call ended: executed, upstream_error, denied, rate_limited, pending, rejected, expired, cancelled, error. */
  callEnded(outcome: string): void;
  /** An approval was decided; seconds from request to decision. */
  approvalDecided(status: string, seconds: number): void;
  limiterResult(result: 'allowed' | 'denied' | 'unavailable'): void;
  jobFailed(kind: string): void;
  /** Reads the job queue's depth when scraped (call once). */
  observeQueueDepth(read: () => Promise<number> | number): void;
  /** Reads how many audit events wait to be written when scraped (call once): alert well before audit.maxBacklog. */
  observeAuditBacklog(read: () => number): void;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'airlock_process_' });
  const held = new Gauge({ name: 'airlock_held_calls', help: 'Tool calls currently held for a human decision', registers: [registry] });
  const calls = new Counter({ name: 'airlock_tool_calls_total', help: 'tools/call requests by how they ended', labelNames: ['outcome'], registers: [registry] });
  const decisions = new Counter({ name: 'airlock_decisions_total', help: 'Approvals decided, by outcome', labelNames: ['status'], registers: [registry] });
  const latency = new Histogram({
    name: 'airlock_decision_latency_seconds',
    help: 'Time from an approval request to its decision',
    labelNames: ['status'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600],
    registers: [registry],
  });
  const limiter = new Counter({ name: 'airlock_limiter_results_total', help: 'Rate-limit checks by result', labelNames: ['result'], registers: [registry] });
  const jobFailures = new Counter({ name: 'airlock_job_failures_total', help: 'Background job attempts that failed', labelNames: ['kind'], registers: [registry] });
  // Registered only once a queue can say how deep it is: a gauge stuck at 0 would be a lie.
  const queueDepth = (read: () => Promise<number> | number) =>
    new Gauge({
      name: 'airlock_queue_depth',
      help: 'Background jobs waiting or delayed',
      registers: [registry],
      async collect() {
        this.set(await read());
      },
    });
  const auditBacklog = (read: () => number) =>
    new Gauge({
      name: 'airlock_audit_backlog',
      help: 'Audit events waiting to be written; at audit.maxBacklog tool calls are refused',
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  return {
    registry,
    callHeld() {
      held.inc();
      let done = false;
      return () => {
        if (!done) held.dec();
        done = true;
      };
    },
    callEnded: (outcome) => calls.inc({ outcome }),
    approvalDecided: (status, seconds) => {
      decisions.inc({ status });
      latency.observe({ status }, seconds);
    },
    limiterResult: (result) => limiter.inc({ result }),
    jobFailed: (kind) => jobFailures.inc({ kind }),
    observeQueueDepth: (read) => {
      queueDepth(read);
    },
    observeAuditBacklog: (read) => {
      auditBacklog(read);
    },
  };
}
