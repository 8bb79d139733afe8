import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

import type { z } from 'zod';

import { AirlockError } from '../errors/airlock-error.js';
import { type Config, ConfigSchema } from './schema.js';

/** Formats zod issues as `servers.github.command: required`, one line each, in file order. */
function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${issue.path.map((key) => String(key)).join('.') || '(root)'}: ${describeIssue(issue)}`);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.message.endsWith('received undefined') ? 'required' : `expected ${issue.expected}`;
    case 'unrecognized_keys':
      return `unknown key(s) ${issue.keys.map((key) => `"${key}"`).join(', ')}`;
    case 'invalid_key':
      return `invalid name: ${issue.issues.map((inner) => inner.message).join('; ')}`;
    default:
      return issue.message;
  }
}

/** Environment variables override the file (DESIGN.md §6). */
function applyEnvironment(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  if (env.AIRLOCK_PORT === undefined && !env.AIRLOCK_INTERNAL_URL) return raw;
  const listen = { ...((raw.listen ?? {}) as Record<string, unknown>) };
  if (env.AIRLOCK_PORT !== undefined) listen.port = Number(env.AIRLOCK_PORT);
  // Instances usually share one config file; each names its own address here.
  if (env.AIRLOCK_INTERNAL_URL) listen.internalUrl = env.AIRLOCK_INTERNAL_URL;
  return { ...raw, listen };
}

export function parseConfig(raw: unknown, source = 'config', env: NodeJS.ProcessEnv = process.env): Config {
  const input = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? applyEnvironment(raw as Record<string, unknown>, env) : raw;
  const parsed = ConfigSchema.safeParse(input);
  if (!parsed.success) {
    const details = formatIssues(parsed.error.issues);
    throw new AirlockError('CONFIG_INVALID', `${source} is invalid:\n  ${details.join('\n  ')}`, { details });
  }
  return parsed.data;
}

/** Reads and validates a config file. Relative paths inside it (policy, cwd) resolve against its folder. */
export async function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new AirlockError('CONFIG_INVALID', `cannot read config ${path}: ${(error as Error).message}`, { cause: error });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new AirlockError('CONFIG_INVALID', `${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const config = parseConfig(raw, path, env);
  const base = dirname(resolve(path));
  return { ...config, policy: config.policy === undefined ? undefined : resolve(base, config.policy) };
}
