import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { acquireDataDirLock, LOCK_FILE_NAME } from './data-dir-lock.js';

const LOCK_MODULE = fileURLToPath(new URL('./data-dir-lock.ts', import.meta.url));
const CREATE_DB_MODULE = fileURLToPath(new URL('./create-db.ts', import.meta.url));

/** Runs ESM TypeScript in a separate Node process, as a second gateway would be. */
function spawnScript(script: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

async function output(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('acquireDataDirLock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-lock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('when another process holds the directory', () => {
    it('refuses a second process opening the database there, naming the directory and the holding PID', async () => {
      const lock = await acquireDataDirLock(dir);
      try {
        const child = spawnScript(
          `import { createDb } from ${JSON.stringify(CREATE_DB_MODULE)};
           try { await createDb(); console.log('opened'); process.exit(0); }
           catch (error) { console.error(error.code + ': ' + error.message); process.exit(1); }`,
          { AIRLOCK_DATA_DIR: dir, DATABASE_URL: '' },
        );
        const result = await output(child);
        expect(result.code).toBe(1);
        expect(result.stdout).toBe('');
        expect(result.stderr).toContain(`STORAGE_UNAVAILABLE: Airlock data directory ${dir} is in use by process ${process.pid}`);
        expect(result.stderr).toContain('use PostgreSQL (DATABASE_URL)');
      } finally {
        await lock.release();
      }
    });

    it('refuses this process while a live child holds it, and takes over once the child was killed', async () => {
      const child = spawnScript(
        `import { acquireDataDirLock } from ${JSON.stringify(LOCK_MODULE)};
         await acquireDataDirLock(${JSON.stringify(dir)});
         console.log('locked');
         setInterval(() => {}, 1000);`,
      );
      const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
      expect(chunk.toString()).toContain('locked');

      await expect(acquireDataDirLock(dir)).rejects.toThrow(`is in use by process ${child.pid}`);

      // SIGKILL runs no exit handler: the lock file stays behind, naming a PID that no longer exists.
      child.kill('SIGKILL');
      await once(child, 'exit');
      expect(JSON.parse(await readFile(join(dir, LOCK_FILE_NAME), 'utf8'))).toMatchObject({ pid: child.pid });

      const lock = await acquireDataDirLock(dir);
      expect(JSON.parse(await readFile(join(dir, LOCK_FILE_NAME), 'utf8'))).toMatchObject({ pid: process.pid });
      await lock.release();
    });
  });

  it('refuses a second lock in the same process', async () => {
    const lock = await acquireDataDirLock(dir);
    await expect(acquireDataDirLock(dir)).rejects.toThrow(`in use by process ${process.pid}`);
    await lock.release();
  });

  it('removes only its own lock file on release, and release is idempotent', async () => {
    const lock = await acquireDataDirLock(dir);
    await lock.release();
    await lock.release();
    await expect(readFile(join(dir, LOCK_FILE_NAME))).rejects.toMatchObject({ code: 'ENOENT' });
    const next = await acquireDataDirLock(dir);
    await lock.release();
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE_NAME), 'utf8'))).toMatchObject({ pid: process.pid });
    await next.release();
  });

  it('takes over a lock naming this PID and host that this process did not take (a container restarted as PID 1 after SIGKILL)', async () => {
    const earlier = { pid: process.pid, hostname: hostname(), startedAt: '2026-11-01T00:00:00.000Z', token: 'an-earlier-incarnation' };
    await writeFile(join(dir, LOCK_FILE_NAME), JSON.stringify(earlier));
    const lock = await acquireDataDirLock(dir);
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE_NAME), 'utf8'))).toMatchObject({ pid: process.pid, token: expect.not.stringMatching(earlier.token) });
    await lock.release();
  });

  it.skipIf(!existsSync('/proc/self/stat'))('takes over a lock whose PID now belongs to a process that started later than its holder', async () => {
    // The parent of this test process is alive, but it is not the incarnation the lock recorded.
    const reused = { pid: process.ppid, hostname: hostname(), startedAt: '2026-11-01T00:00:00.000Z', token: 't', incarnation: 'another-boot:1' };
    await writeFile(join(dir, LOCK_FILE_NAME), JSON.stringify(reused));
    const lock = await acquireDataDirLock(dir);
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE_NAME), 'utf8'))).toMatchObject({ pid: process.pid, incarnation: expect.any(String) });
    await lock.release();
  });

  it('counts a lock from another host as held, since its PID cannot be checked from here', async () => {
    const holder = { pid: 4242, hostname: 'other-host', startedAt: '2026-11-01T00:00:00.000Z', token: 't' };
    await writeFile(join(dir, LOCK_FILE_NAME), JSON.stringify(holder));
    await expect(acquireDataDirLock(dir)).rejects.toThrow('is in use by process 4242 on host other-host');
  });

  it('refuses an unreadable lock file rather than guessing', async () => {
    await writeFile(join(dir, LOCK_FILE_NAME), 'not json');
    await expect(acquireDataDirLock(dir)).rejects.toThrow(/unreadable lock file/);
  });

  it('creates a missing data directory', async () => {
    const nested = join(dir, 'a', 'b');
    const lock = await acquireDataDirLock(nested);
    expect(lock.lockFile).toBe(join(nested, LOCK_FILE_NAME));
    await lock.release();
  });
});
