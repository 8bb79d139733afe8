/**
 * Keeps the policy in force in step with its file. A valid change applies to the next call (sessions stay
 * open); an invalid one is refused, logged with every problem, and the last good policy stays in force. This is
 * the I/O edge of the policy folder: the engine itself never touches a file.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

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
  #watcher: FSWatcher | undefined;
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
    const loaded = await loadPolicyFile(file);
    if (!loaded.ok) {
      const details = loaded.problems.map((p) => formatProblem(p, file));
      throw new AirlockError('POLICY_INVALID', `policy ${file} is invalid:\n  ${details.join('\n  ')}`, { details });
    }
    const watcher = new PolicyWatcher(file, loaded.policy, logger, onChange);
    // Editors replace files rather than write them in place, so the folder is watched, not the file.
    watcher.#watcher = watch(dirname(file), (_event, name) => {
      if (name === null || name === basename(file)) void watcher.reload();
    });
    watcher.#watcher.unref();
    return watcher;
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
    });
    await this.#reloading;
    if (this.#again) {
      this.#again = false;
      await this.reload();
    }
  }

  async #load(): Promise<void> {
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
    this.#watcher?.close();
  }
}
