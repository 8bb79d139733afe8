/** Starts a node process of the project (upstream, gateway) for a benchmark; resolves once its output matches. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export function startProcess(
  args: string[],
  pattern: RegExp,
  stream: 'stdout' | 'stderr',
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AIRLOCK_LOG_LEVEL: 'warn', ...env } });
  return new Promise((resolve, reject) => {
    let buffer = '';
    child[stream]!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = pattern.exec(buffer);
      if (match) resolve({ child, match });
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${buffer}`)));
  });
}
