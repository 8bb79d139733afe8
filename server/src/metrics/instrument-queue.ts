import type { JobQueue } from '../jobs/job-queue.js';
import type { Metrics } from './metrics.js';

/**
 * The job queue as the gateway uses it, counting every failed job attempt by kind (the failure still goes to the
 * queue, which retries or gives up as its rules say) and reporting its depth when metrics are scraped.
 */
export function instrumentQueue(queue: JobQueue, metrics: Metrics): JobQueue {
  metrics.observeQueueDepth(() => queue.depth());
  return {
    handle(kind, handler) {
      queue.handle(kind, async (job) => {
        try {
          await handler(job as never);
        } catch (error) {
          metrics.jobFailed(kind);
          throw error;
        }
      });
    },
    enqueue: (kind, payload, options) => queue.enqueue(kind, payload, options),
    remove: (key) => queue.remove(key),
    depth: () => queue.depth(),
    close: () => queue.close(),
  };
}
