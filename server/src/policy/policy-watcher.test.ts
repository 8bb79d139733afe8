import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createLogger } from '../log/logger.js';
import { PolicyWatcher } from './policy-watcher.js';

const policy = (action: 'allow' | 'deny') => JSON.stringify({ version: '1', default: action });

describe('PolicyWatcher through symlinks', () => {
  let dir: string;
  let watcher: PolicyWatcher | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-policy-watch-'));
  });
  afterEach(async () => {
    watcher?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reloads when a Kubernetes ConfigMap swaps its ..data symlink, never touching policy.json itself', async () => {
    // The layout kubelet writes: policy.json -> ..data/policy.json, ..data -> a timestamped folder.
    await mkdir(join(dir, '..2026_11_25_a'));
    await writeFile(join(dir, '..2026_11_25_a', 'policy.json'), policy('allow'));
    await symlink('..2026_11_25_a', join(dir, '..data'));
    await symlink('..data/policy.json', join(dir, 'policy.json'));
    watcher = await PolicyWatcher.open(join(dir, 'policy.json'), createLogger('silent'));
    expect(watcher.current().defaultAction).toBe('allow');

    // An update, as kubelet's AtomicWriter does it: a new folder, a new symlink renamed over ..data, the old folder removed.
    await mkdir(join(dir, '..2026_11_25_b'));
    await writeFile(join(dir, '..2026_11_25_b', 'policy.json'), policy('deny'));
    await symlink('..2026_11_25_b', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await rm(join(dir, '..2026_11_25_a'), { recursive: true });

    await expect.poll(() => watcher!.current().defaultAction, { timeout: 5_000 }).toBe('deny');
  });

  it('reloads when the file a symlink points to, in another folder, is rewritten in place', async () => {
    await mkdir(join(dir, 'elsewhere'));
    await mkdir(join(dir, 'config'));
    await writeFile(join(dir, 'elsewhere', 'policy.json'), policy('allow'));
    await symlink(join(dir, 'elsewhere', 'policy.json'), join(dir, 'config', 'policy.json'));
    watcher = await PolicyWatcher.open(join(dir, 'config', 'policy.json'), createLogger('silent'));

    await writeFile(join(dir, 'elsewhere', 'policy.json'), policy('deny'));

    await expect.poll(() => watcher!.current().defaultAction, { timeout: 5_000 }).toBe('deny');
  });
});
