import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { borrowDb, createTestDatabase, type TestDatabase } from '../../../test/contract/test-databases.js';
import { verifyPassword } from '../console/passwords.js';
import { findUser } from '../console/users.js';
import { openPgliteDb } from '../db/pglite-db.js';
import { runUserCommand } from './user-command.js';

let database: TestDatabase;

async function run(argv: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runUserCommand(
    argv,
    { stdout: (text) => (stdout += `${text}\n`), stderr: (text) => (stderr += `${text}\n`) },
    { openDb: async () => borrowDb(database.db), readStdin: async () => stdin },
  );
  return { code, stdout, stderr };
}

describe('airlock user', () => {
  beforeAll(async () => {
    database = await createTestDatabase('pglite', { migrated: false });
  });
  afterAll(() => database.destroy());

  it('adds a user with a password from standard input, migrating a fresh database first', async () => {
    const added = await run(['add', 'alice', '--role', 'approver', '--password-stdin', '--display-name', 'Alice A.'], 'correct horse battery\n');
    expect(added).toEqual({ code: 0, stdout: 'created approver "alice" (policies name them web:alice)\n', stderr: '' });
    const alice = await findUser(database.db, 'alice');
    expect(alice).toMatchObject({ role: 'approver', displayName: 'Alice A.' });
    expect(await verifyPassword('correct horse battery', alice!.passwordHash!)).toBe(true);
  });

  it('generates and prints a password when none is given', async () => {
    const added = await run(['add', 'bob', '--role', 'viewer']);
    expect(added.code).toBe(0);
    const password = /password: (\S+)/.exec(added.stdout)?.[1] ?? '';
    expect(password).toHaveLength(24);
    expect(await verifyPassword(password, (await findUser(database.db, 'bob'))!.passwordHash!)).toBe(true);
  });

  it('lists users with their roles', async () => {
    const listed = await run(['list']);
    expect(listed.stdout.split('\n').filter(Boolean).map((line) => line.split(/\s+/).slice(0, 3))).toEqual([
      ['alice', 'approver', 'active'],
      ['bob', 'viewer', 'active'],
    ]);
  });

  it.each([
    [['add', 'carol'], /--role must be one of viewer, approver, admin/],
    [['add', 'carol', '--role', 'root'], /--role must be one of/],
    [['add', 'Carol Smith', '--role', 'viewer'], /is not a valid username/],
    [['add', '--role', 'viewer'], /give exactly one username/],
    [['add', 'carol', '--role', 'viewer', '--password-stdin'], /at least 10 characters/],
    [['remove', 'carol'], /unknown subcommand "remove"/],
  ])('refuses %j with usage and exit 2', async (argv, message) => {
    const refused = await run(argv, 'short\n');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(message);
  });

  it('refuses a user that exists with exit 1', async () => {
    const again = await run(['add', 'alice', '--role', 'admin']);
    expect(again).toMatchObject({ code: 1, stderr: 'airlock user: A console user named "alice" already exists\n' });
  });
});

describe('airlock user --config', () => {
  let dir: string;
  let config: string;
  const dataDir = () => join(dir, 'data');
  const run = async (argv: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await runUserCommand(argv, { stdout: (text) => (stdout += `${text}\n`), stderr: (text) => (stderr += `${text}\n`) });
    return { code, stdout, stderr };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-user-cli-'));
    config = join(dir, 'airlock.config.json');
    await writeFile(config, JSON.stringify({ servers: {}, database: { dataDir: dataDir() } }));
  });
  afterEach(() => vi.unstubAllEnvs());
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('adds the user to the database of the config file, as serve would open it', async () => {
    vi.stubEnv('DATABASE_URL', '');
    vi.stubEnv('AIRLOCK_DATA_DIR', '');
    expect(await run(['add', 'dana', '--role', 'admin', '--config', config])).toMatchObject({ code: 0, stderr: '' });
    expect((await run(['list', '--config', config])).stdout).toMatch(/^dana\s+admin\s+active/);
    const db = await openPgliteDb(dataDir());
    try {
      expect(await findUser(db, 'dana')).toMatchObject({ role: 'admin' });
    } finally {
      await db.close();
    }
  });

  it('reads AIRLOCK_DATA_DIR over the config file, and where no database exists creates nothing and names the directory', async () => {
    const missing = join(dir, 'nowhere');
    vi.stubEnv('DATABASE_URL', '');
    vi.stubEnv('AIRLOCK_DATA_DIR', missing);
    const listed = await run(['list', '--config', config]);
    expect(listed.code).toBe(2);
    expect(listed.stderr).toBe(`airlock user: no Airlock database exists at ${missing}; point at the gateway's with --config <its config file>, AIRLOCK_DATA_DIR=<its data directory> or DATABASE_URL=<its PostgreSQL URL>\n`);
    expect(existsSync(missing)).toBe(false);
  });
});
