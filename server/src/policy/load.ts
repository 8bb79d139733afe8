/**
 * Policy text in, a whole CompiledPolicy or every problem out. Never throws: bad JSON, a wrong type, a
 * misspelled key, an unreadable file and even an internal failure all come back as problems with a line and
 * column, and no CompiledPolicy exists unless there are none (a refused policy is never half-applied).
 */
import { readFile } from 'node:fs/promises';

import { compilePolicy, type CompiledPolicy } from './compile.js';
import { crossCheck } from './checks.js';
import { offsetOf, parseJsonText, type LineIndex, type TextProblem } from './json-text.js';
import { toDottedPath } from './paths.js';
import { problemsFromIssues } from './problems.js';
import { policySchema, type PolicyDocument } from './schema.js';

export interface PolicyProblem {
  /** Dotted JSON path, e.g. `tools.create_charge.deny_if[0].op`; empty for the whole document. */
  path: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  message: string;
  /** Where the text came from, when the caller said (a file path). */
  source?: string;
}

export type LoadResult = { ok: true; policy: CompiledPolicy } | { ok: false; problems: PolicyProblem[] };

export function loadPolicy(text: string, source?: string): LoadResult {
  try {
    return loadText(text, source);
  } catch (error) {
    // A bug here must refuse the policy, not crash the gateway or apply part of it.
    return refuse([{ path: '', line: 1, column: 1, message: `policy could not be validated: ${String(error)}` }], source);
  }
}

export async function loadPolicyFile(path: string): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String((error as Error).message ?? error);
    return refuse([{ path: '', line: 1, column: 1, message: `cannot read policy file: ${reason}` }], path);
  }
  return loadPolicy(text, path);
}

function loadText(text: string, source: string | undefined): LoadResult {
  if (typeof text !== 'string') return refuse([{ path: '', line: 1, column: 1, message: 'policy text must be a string' }], source);
  // A byte-order mark is invisible in editors; refusing the file for it would help nobody.
  const body = text.startsWith('\uFEFF') ? ` ${text.slice(1)}` : text;
  const parsed = parseJsonText(body);
  if (!parsed.ok) return refuse(positioned(parsed.problems, parsed.lines), source);

  const { tree, value, lines } = parsed;
  const result = policySchema.safeParse(value);
  const problems = [...parsed.problems];
  if (!result.success) {
    problems.push(...problemsFromIssues(result.error.issues, value, policySchema, (path, atKey) => offsetOf(tree, path, atKey)));
  } else {
    for (const { path, message } of crossCheck(result.data)) problems.push({ path, message, offset: offsetOf(tree, path) });
  }
  if (!result.success && problems.length === 0) problems.push({ path: [], message: 'policy is invalid', offset: 0 });
  if (problems.length > 0 || !result.success) return refuse(positioned(problems, lines), source);
  return { ok: true, policy: compilePolicy(result.data, value as PolicyDocument) };
}

function positioned(problems: readonly TextProblem[], lines: LineIndex): PolicyProblem[] {
  return problems
    .map(({ offset, path, message }) => ({ path: toDottedPath(path), ...lines.position(offset), message }))
    .sort((a, b) => a.line - b.line || a.column - b.column || a.path.localeCompare(b.path));
}

function refuse(problems: PolicyProblem[], source: string | undefined): LoadResult {
  return { ok: false, problems: source === undefined ? problems : problems.map((p) => ({ ...p, source })) };
}
