import type { PipelineObserver } from '../pipeline/run-pipeline.js';
import type { Metrics } from './metrics.js';

/** Counts every tools/call by how it ended. */
export function metricsObserver(metrics: Metrics): PipelineObserver {
  return {
    onEnd(_call, _stage, result) {
      metrics.callEnded(result.kind === 'respond' ? result.outcome : 'error');
    },
  };
}
