/** Test scaffolding: a JobQueue that records what reaches it, and can refuse or hold jobs, in front of a real in-process queue. */
import type { EnqueueOptions, EnqueueResult, JobQueue } from '../job-queue.js';
import { MemoryJobQueue } from '../memory-job-queue.js';
import { ManualScheduler } from '../scheduler.js';

export interface Enqueued {
  kind: string;
  payload: unknown;
  options: EnqueueOptions | undefined;
}

export class SpyQueue implements JobQueue {
  readonly enqueued: Enqueued[] = [];
  readonly inner: MemoryJobQueue;
  /** While set, enqueue rejects with it, as a queue whose Redis is away does. */
  refuse: Error | undefined;
  hold: Promise<void> | undefined;
  #onEnqueue: (() => void) | undefined;

  /** The inner queue runs jobs on `scheduler`'s time. */
  constructor(scheduler = new ManualScheduler()) {
    this.inner = new MemoryJobQueue({ scheduler });
  }

  handle: JobQueue['handle'] = (kind, handler) => this.inner.handle(kind, handler);
  remove: JobQueue['remove'] = (key) => this.inner.remove(key);
  depth: JobQueue['depth'] = () => this.inner.depth();
  close: JobQueue['close'] = () => this.inner.close();

  async enqueue<P>(kind: string, payload: P, options?: EnqueueOptions): Promise<EnqueueResult> {
    this.#onEnqueue?.();
    await this.hold;
    if (this.refuse) throw this.refuse;
    this.enqueued.push({ kind, payload, options });
    return this.inner.enqueue(kind, payload, options);
  }

  /** Resolves when the next enqueue starts. */
  nextEnqueue(): Promise<void> {
    return new Promise((resolve) => (this.#onEnqueue = resolve));
  }
}
