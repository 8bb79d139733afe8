/** Picks the job queue for this process: BullMQ when a Redis URL is configured (resolveRedisUrl), in-process otherwise. */
import type { Logger } from '../log/logger.js';
import { BullMqJobQueue } from './bullmq-job-queue.js';
import type { JobQueue } from './job-queue.js';
import { MemoryJobQueue } from './memory-job-queue.js';

export interface CreateJobQueueOptions {
  /** Empty or unset means the in-process queue (single process only). */
  redisUrl: string | undefined;
  /** BullMQ only: namespaces the queue's Redis keys; defaults to `airlock`. */
  prefix?: string | undefined;
  logger?: Pick<Logger, 'warn' | 'error'> | undefined;
}

export function createJobQueue({ redisUrl, prefix, logger }: CreateJobQueueOptions): JobQueue {
  return redisUrl ? new BullMqJobQueue({ url: redisUrl, prefix, logger }) : new MemoryJobQueue({ logger });
}
