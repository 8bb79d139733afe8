import type { CallContext, Stage, StageResult, ToolCall } from './tool-call.js';

export interface PipelineObserver {
  /** Called once per call with the stage that ended it and its result (audit, metrics). */
  onEnd(call: ToolCall, stage: string, result: Exclude<StageResult, { kind: 'continue' }>, context: CallContext): void;
  /**
   * A 2026 client's answer continued a call the pipeline admitted earlier (its upstream asked mid-call, see
   * SuspendedCalls): only the upstream's outcome is new, the decision was observed when the call began.
   */
  onContinued?(call: ToolCall, result: Exclude<StageResult, { kind: 'continue' }>, context: CallContext): void;
}

/**
 * Runs the stages in order until one answers. A stage that throws is a fault of that stage, reported as an
 * error result rather than a decision; the observer sees every ending, so deny, error and cancel are all audited.
 */
export async function runPipeline(
  stages: readonly Stage[],
  call: ToolCall,
  context: CallContext,
  observer?: PipelineObserver,
): Promise<Exclude<StageResult, { kind: 'continue' }>> {
  let last = 'none';
  try {
    for (const stage of stages) {
      last = stage.name;
      const result = await stage.run(call, context);
      if (result.kind !== 'continue') {
        observer?.onEnd(call, stage.name, result, context);
        return result;
      }
    }
  } catch (error) {
    observer?.onEnd(call, last, { kind: 'error', error: error as never }, context);
    throw error;
  }
  throw new Error(`pipeline ended without an answer after stage "${last}"`);
}

/** Several observers as one, each isolated from the others' failures. */
export function allObservers(observers: readonly (PipelineObserver | undefined)[]): PipelineObserver {
  const present = observers.filter((observer): observer is PipelineObserver => observer !== undefined);
  const each = (notify: (observer: PipelineObserver) => void) => {
    for (const observer of present) {
      try {
        notify(observer);
      } catch {
        // An observer (audit, metrics) never changes the call's outcome.
      }
    }
  };
  return {
    onEnd(call, stage, result, context) {
      each((observer) => observer.onEnd(call, stage, result, context));
    },
    onContinued(call, result, context) {
      each((observer) => observer.onContinued?.(call, result, context));
    },
  };
}
