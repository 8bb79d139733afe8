/**
 * One process per embedded data directory. PGlite has no locking of its own, and two processes opening one
 * directory silently lose writes (research/infra.md §0), so the first process writes `airlock.lock` (its PID)
 * and every later one is refused with a message naming the directory and the holder. A lock left behind by a
 * process that no longer exists (SIGKILL, power loss) is taken over.
 *
 * A PID alone can outlive its process: in a container the gateway is PID 1 on every start, and elsewhere a PID is
 * reused. So a lock naming this process's PID is ours only if this process issued its token, and where Linux
 * tells (`/proc`), a lock records its holder's incarnation (boot id and start time), so a live process that merely
 * got the same PID later does not count as the holder.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { readFileSync, unlinkSync } from 'node:fs';
import { z } from 'zod';

import { AirlockError } from '../errors/airlock-error.js';

export const LOCK_FILE_NAME = 'airlock.lock';

const lockHolderSchema = z.object({
  pid: z.number().int().positive(),
  hostname: z.string(),
  startedAt: z.string(),
  token: z.string(),
  /** `<boot id>:<start time>` of the holder, where /proc has them; absent in locks from elsewhere. */
  incarnation: z.string().optional(),
});
type LockHolder = z.infer<typeof lockHolderSchema>;

/** The tokens of the locks this process holds: a lock naming our PID with any other token was left by an earlier incarnation. */
const heldTokens = new Set<string>();

export interface DataDirLock {
  readonly dataDir: string;
  readonly lockFile: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): Promise<void>;
}

/** Takes the lock on `dataDir` (created if missing) or throws STORAGE_UNAVAILABLE naming the process holding it. */
export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const dir = resolve(dataDir);
  const lockFile = join(dir, LOCK_FILE_NAME);
  await mkdir(dir, { recursive: true });
  const incarnation = incarnationOf(process.pid);
  const me: LockHolder = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), token: randomUUID(), ...(incarnation ? { incarnation } : {}) };

  // Three rounds: a stale lock taken over, or a holder that released between our attempts, needs one more try.
  for (let round = 0; round < 3; round++) {
    if (await createExclusively(lockFile, JSON.stringify(me))) return holdLock(dir, lockFile, me);
    const holder = await readHolder(lockFile);
    if (holder === 'missing') continue;
    if (holder === 'unreadable') {
      throw new AirlockError(
        'STORAGE_UNAVAILABLE',
        `Airlock data directory ${dir} has an unreadable lock file ${lockFile}; delete it if no Airlock process is using the directory`,
      );
    }
    if (isAlive(holder)) throw inUse(dir, holder);
    await takeOverStale(lockFile, holder);
  }
  throw new AirlockError('STORAGE_UNAVAILABLE', `Airlock data directory ${dir} is being locked by another process; try again`);
}

function inUse(dir: string, holder: LockHolder): AirlockError {
  const where = holder.hostname === hostname() ? '' : ` on host ${holder.hostname}`;
  return new AirlockError(
    'STORAGE_UNAVAILABLE',
    `Airlock data directory ${dir} is in use by process ${holder.pid}${where} (since ${holder.startedAt}). ` +
      'Only one process can open an embedded database: stop that process, set AIRLOCK_DATA_DIR to another ' +
      'directory, or use PostgreSQL (DATABASE_URL) to run several processes.',
  );
}

/** Creates the file with its full content in one step (link fails if the name exists), so no reader sees it empty. */
async function createExclusively(lockFile: string, content: string): Promise<boolean> {
  const temp = `${lockFile}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temp, content);
  try {
    await link(temp, lockFile);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp);
  }
}

async function readHolder(file: string): Promise<LockHolder | 'missing' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
  try {
    return lockHolderSchema.parse(JSON.parse(text));
  } catch {
    return 'unreadable';
  }
}

function isAlive(holder: LockHolder): boolean {
  // A PID on another host (a shared volume) cannot be checked from here, so it counts as alive.
  if (holder.hostname !== hostname()) return true;
  if (holder.pid === process.pid) return heldTokens.has(holder.token);
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  // Alive under that PID, but perhaps another process: only a recorded incarnation that differs says so.
  const now = holder.incarnation === undefined ? undefined : incarnationOf(holder.pid);
  return now === undefined || now === holder.incarnation;
}

/**
 * `<boot id>:<start time in clock ticks since boot>` of a process, which no later process with its PID shares; from
 * /proc/sys/kernel/random/boot_id and field 22 of /proc/<pid>/stat. Undefined where /proc does not tell.
 */
function incarnationOf(pid: number): string | undefined {
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command name, in parentheses) may hold spaces; field 3 starts after its closing parenthesis.
    const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3];
    return bootId && startTime ? `${bootId}:${startTime}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Moves the stale file aside rather than deleting it: if another process took the lock over between our read
 * and now, we moved *its* fresh lock, notice by the token, and put it back.
 */
async function takeOverStale(lockFile: string, stale: LockHolder): Promise<void> {
  const aside = `${lockFile}.stale.${process.pid}.${randomUUID()}`;
  try {
    await rename(lockFile, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const moved = await readHolder(aside);
  if (typeof moved === 'object' && moved.token !== stale.token) {
    await link(aside, lockFile).catch(() => undefined);
  }
  await unlink(aside);
}

function holdLock(dataDir: string, lockFile: string, me: LockHolder): DataDirLock {
  const isOurs = (text: string) => {
    try {
      return lockHolderSchema.parse(JSON.parse(text)).token === me.token;
    } catch {
      return false;
    }
  };
  // A normal exit without close() still frees the directory; SIGKILL leaves a stale lock, taken over later.
  const releaseOnExit = () => {
    try {
      if (isOurs(readFileSync(lockFile, 'utf8'))) unlinkSync(lockFile);
    } catch {
      // Already gone: nothing to release.
    }
  };
  process.on('exit', releaseOnExit);
  heldTokens.add(me.token);
  let released = false;
  return {
    dataDir,
    lockFile,
    async release() {
      if (released) return;
      released = true;
      heldTokens.delete(me.token);
      process.off('exit', releaseOnExit);
      try {
        if (isOurs(await readFile(lockFile, 'utf8'))) await unlink(lockFile);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    },
  };
}
