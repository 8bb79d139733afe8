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
  const port = envPort(env.AIRLOCK_PORT);
  if (port === undefined && !env.AIRLOCK_INTERNAL_URL) return raw;
  const listen = { ...((raw.listen ?? {}) as Record<string, unknown>) };
  if (port !== undefined) listen.port = port;
  // Instances usually share one config file; each names its own address here.
  if (env.AIRLOCK_INTERNAL_URL) listen.internalUrl = env.AIRLOCK_INTERNAL_URL;
  return { ...raw, listen };
}

/**
 * AIRLOCK_PORT, empty meaning unset (as `AIRLOCK_PORT=${PORT:-}` leaves it). Only plain digits: Number() would
 * take " " as 0 (a random port) and "0x1F90" as 8080, and the file's listen.port is not what is wrong.
 */
function envPort(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : 0;
  if (port >= 1 && port <= 65535) return port;
  const problem = `AIRLOCK_PORT: must be a port number from 1 to 65535 (got ${JSON.stringify(text)})`;
  throw new AirlockError('CONFIG_INVALID', problem, { details: [problem] });
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
