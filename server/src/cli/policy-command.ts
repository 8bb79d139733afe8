/**
 * `airlock policy validate FILE` and `airlock policy check FILE --tool NAME --args JSON`: argument parsing and
 * printing only; loading and deciding are the policy engine's. Exit codes: 0 done (whatever the decision),
 * 1 the policy is invalid or unreadable, 2 the command line is wrong.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { evaluate, type LimitRequest, type PolicyDecision } from '../policy/evaluate.js';
import { loadPolicyFile, type PolicyProblem } from '../policy/load.js';
import { formatDuration } from '../util/duration.js';
import type { CliIo } from './command.js';


const USAGE = `usage:
  airlock policy validate FILE
  airlock policy check FILE --tool NAME [--args JSON] [--grant G] [--agent A] [--session S] [--server S] [--json]
    NAME is "server__tool" or a bare tool name; --args defaults to {} and --grant to "local"`;

export async function runPolicyCommand(argv: string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = argv;
  switch (subcommand) {
    case 'validate':
      return validate(rest, io);
    case 'check':
      return check(rest, io);
    case '-h':
    case '--help':
    case 'help':
      io.stdout(USAGE);
      return 0;
    default:
      io.stderr(subcommand === undefined ? USAGE : `airlock policy: unknown subcommand "${subcommand}"\n${USAGE}`);
      return 2;
  }
}

async function validate(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(argv, {}, io);
  if (parsed === undefined) return 2;
  const file = onlyFile(parsed.positionals, io);
  if (file === undefined) return 2;
  const result = await loadPolicyFile(file);
  if (!result.ok) return printProblems(file, result.problems, io);
  const { toolCount, defaultAction } = result.policy;
  io.stdout(`${file}: valid (${toolCount} tool${toolCount === 1 ? '' : 's'}, default ${defaultAction})`);
  return 0;
}

const CHECK_OPTIONS = {
  tool: { type: 'string' },
  args: { type: 'string' },
  grant: { type: 'string' },
  agent: { type: 'string' },
  session: { type: 'string' },
  server: { type: 'string' },
  json: { type: 'boolean' },
} as const;

async function check(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(argv, CHECK_OPTIONS, io);
  if (parsed === undefined) return 2;
  const file = onlyFile(parsed.positionals, io);
  if (file === undefined) return 2;
  const { values } = parsed;
  if (values.tool === undefined || values.tool === '') return usageError('--tool NAME is required', io);
  const args = parseArgsJson(values.args ?? '{}');
  if (typeof args === 'string') return usageError(args, io);

  const result = await loadPolicyFile(file);
  if (!result.ok) return printProblems(file, result.problems, io);
  const { server, tool } = splitToolName(values.tool, values.server);
  const caller = { grant: values.grant ?? 'local', ...(values.agent && { agent: values.agent }), ...(values.session && { session: values.session }) };
  const decision = evaluate(result.policy, { caller, server, tool, args });
  if (values.json) io.stdout(JSON.stringify(decision, null, 2));
  else printDecision(decision, io);
  return 0;
}

/** `github__create_issue` → server github, tool create_issue; an explicit --server wins over splitting. */
export function splitToolName(name: string, server?: string): { server: string; tool: string } {
  if (server !== undefined) return { server, tool: name };
  const at = name.indexOf('__');
  return at <= 0 ? { server: '', tool: name } : { server: name.slice(0, at), tool: name.slice(at + 2) };
}

function parseArgsJson(text: string): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `--args is not valid JSON: ${(error as Error).message}`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return '--args must be a JSON object, like {"amount": 5000}';
  return value as Record<string, unknown>;
}

function printDecision(decision: PolicyDecision, io: CliIo): void {
  io.stdout(`decision: ${decision.action}`);
  io.stdout(`rule:     ${decision.rule}`);
  io.stdout(`reason:   ${decision.reason}`);
  if (decision.limits.length === 0) io.stdout('limits:   none');
  decision.limits.forEach((limit, i) => io.stdout(`${i === 0 ? 'limits:  ' : '         '} ${describeLimit(limit)}`));
  const { approval } = decision;
  if (approval !== undefined) {
    const channels = approval.channels.length > 0 ? approval.channels.join(', ') : 'all configured channels';
    io.stdout(`approval: ${approval.approvers.join(', ')}; quorum ${approval.quorum}; timeout ${formatDuration(approval.timeoutMs)}, then ${approval.onTimeout}; via ${channels}`);
  }
}

function describeLimit(limit: LimitRequest): string {
  return `${limit.key}: at most ${limit.max} per ${formatDuration(limit.windowMs)}, this call costs ${limit.cost}, then ${limit.onExceed} (${limit.rule})`;
}

function printProblems(file: string, problems: readonly PolicyProblem[], io: CliIo): number {
  for (const problem of problems) {
    io.stderr(`${file}:${problem.line}:${problem.column} ${problem.path || '(document)'}: ${problem.message}`);
  }
  io.stderr(`${file}: invalid (${problems.length} problem${problems.length === 1 ? '' : 's'})`);
  return 1;
}

function parse<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, io: CliIo) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    usageError((error as Error).message, io);
    return undefined;
  }
}

function onlyFile(positionals: string[], io: CliIo): string | undefined {
  if (positionals.length === 1) return positionals[0];
  usageError(positionals.length === 0 ? 'a policy FILE is required' : `expected one FILE, got ${positionals.length}: ${positionals.join(' ')}`, io);
  return undefined;
}

function usageError(message: string, io: CliIo): number {
  io.stderr(`airlock policy: ${message}\n${USAGE}`);
  return 2;
}
