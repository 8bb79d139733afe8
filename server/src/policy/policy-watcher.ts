/**
 * Keeps the policy in force in step with its file. A valid change applies to the next call (sessions stay
 * open); an invalid one is refused, logged with every problem, and the last good policy stays in force. This is
 * the I/O edge of the policy folder: the engine itself never touches a file.
 */
import { realpathSync, watch, type FSWatcher } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

import { AirlockError } from '../errors/airlock-error.js';
import type { Logger } from '../log/logger.js';
import type { CompiledPolicy } from './compile.js';
import { loadPolicyFile, type PolicyProblem } from './load.js';

function formatProblem(problem: PolicyProblem, file: string): string {
  return `${file}:${problem.line}:${problem.column} ${problem.path || '(document)'}: ${problem.message}`;
}

export interface PolicyRefusal {
  at: Date;
  problems: string[];
}

export class PolicyWatcher {
  readonly path: string;
  readonly #logger: Logger;
  readonly #onChange: (policy: CompiledPolicy) => void;
  #policy: CompiledPolicy;
  #refusal: PolicyRefusal | undefined;
  /** By folder: the policy path's own, and that of the file it resolves to through symlinks, when that differs. */
  readonly #watchers = new Map<string, FSWatcher>();
  #closed = false;
  /** The file as last loaded (fingerprint()): the folders hold other files too, and their events need no reading. */
  #seen: string | undefined;
  #reloading: Promise<void> | undefined;
  #again = false;

  private constructor(path: string, policy: CompiledPolicy, logger: Logger, onChange: (policy: CompiledPolicy) => void) {
    this.path = path;
    this.#policy = policy;
    this.#logger = logger;
    this.#onChange = onChange;
  }

  /** Loads the policy; an invalid one at start is a configuration error listing every problem. */
  static async open(path: string, logger: Logger, onChange: (policy: CompiledPolicy) => void = () => undefined): Promise<PolicyWatcher> {
    const file = resolve(path);
    const seen = await fingerprint(file);
    const loaded = await loadPolicyFile(file);
    if (!loaded.ok) {
      const details = loaded.problems.map((p) => formatProblem(p, file));
      throw new AirlockError('POLICY_INVALID', `policy ${file} is invalid:\n  ${details.join('\n  ')}`, { details });
    }
    const watcher = new PolicyWatcher(file, loaded.policy, logger, onChange);
    watcher.#seen = seen;
    watcher.#watch();
    return watcher;
  }

  /**
   * Editors replace files rather than write them in place, so folders are watched, not the file. Any event in them
   * reloads, whatever it names: a Kubernetes ConfigMap swaps its `..data` symlink and never touches the name
   * policy.json, and an unchanged policy reloads as a no-op. The file the path resolves to may live elsewhere and
   * move (ConfigMap's timestamped folders), so its folder is watched as well, followed after every reload.
   */
  #watch(): void {
    if (this.#closed) return;
    const folders = new Set([dirname(this.path), dirname(resolvedPath(this.path))]);
    for (const [folder, watcher] of this.#watchers) {
      if (folders.has(folder)) continue;
      watcher.close();
      this.#watchers.delete(folder);
    }
    for (const folder of folders) {
      if (this.#watchers.has(folder)) continue;
      try {
        const watcher = watch(folder, () => void this.reload());
        // A watched folder can vanish (a ConfigMap's old one): drop its watcher; the next reload watches the new one.
        watcher.on('error', () => {
          watcher.close();
          if (this.#watchers.get(folder) === watcher) this.#watchers.delete(folder);
        });
        watcher.unref();
        this.#watchers.set(folder, watcher);
      } catch (error) {
        this.#logger.warn({ policy: this.path, folder, err: (error as Error).message }, 'cannot watch a folder of the policy; its changes there are not seen');
      }
    }
  }

  current(): CompiledPolicy {
    return this.#policy;
  }

  /** The problems of the last refused change, until a valid one replaces it. */
  get refusal(): PolicyRefusal | undefined {
    return this.#refusal;
  }

  /** Reads the file again; events that arrive during a reload coalesce into one more. */
  async reload(): Promise<void> {
    if (this.#reloading) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = this.#load().finally(() => {
      this.#reloading = undefined;
      this.#watch();
    });
    await this.#reloading;
    if (this.#again) {
      this.#again = false;
      await this.reload();
    }
  }

  async #load(): Promise<void> {
    // Taken before reading, so a change made while we read is not mistaken for what we read.
    const seen = await fingerprint(this.path);
    if (seen === this.#seen) return;
    this.#seen = seen;
    const loaded = await loadPolicyFile(this.path);
    if (!loaded.ok) {
      this.#refusal = { at: new Date(), problems: loaded.problems.map((p) => formatProblem(p, this.path)) };
      this.#logger.error({ policy: this.path, problems: this.#refusal.problems }, 'policy change refused; the last good policy stays in force');
      return;
    }
    this.#refusal = undefined;
    if (loaded.policy.version === this.#policy.version) return;
    this.#policy = loaded.policy;
    this.#logger.info({ policy: this.path, version: loaded.policy.version }, 'policy reloaded');
    this.#onChange(loaded.policy);
  }

  close(): void {
    this.#closed = true;
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }
}

/** Which file the path leads to and which version of it: same fingerprint, same content. */
async function fingerprint(path: string): Promise<string> {
  try {
    const file = await realpath(path);
    const { dev, ino, size, mtimeMs } = await stat(file);
    return `${file} ${dev}:${ino} ${size} ${mtimeMs}`;
  } catch (error) {
    return `unreadable: ${(error as Error).message}`;
  }
}

/** Where the path leads through symlinks; the path itself while it leads nowhere (mid-swap, deleted). */
function resolvedPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
