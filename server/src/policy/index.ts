export { loadPolicy, loadPolicyFile, type LoadResult, type PolicyProblem } from './load.js';
export {
  evaluate,
  isHidden,
  resolveRule,
  type ApprovalSpec,
  type Caller,
  type CallInput,
  type LimitRequest,
  type PolicyDecision,
} from './evaluate.js';
export type { CompiledPolicy } from './compile.js';
export type { Action, Policy, PolicyDocument } from './schema.js';
