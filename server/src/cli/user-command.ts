/**
 * `airlock user add <username> --role viewer|approver|admin [--password-stdin] [--display-name NAME]` and
 * `airlock user list`: console users, in the database `airlock serve` uses with the same --config and environment.
 * Without --password-stdin a strong password is generated and printed once. Exit codes: 0 done, 1 refused (the
 * user exists), 2 wrong command line or database unreachable.
 */
import { randomBytes } from 'node:crypto';
import type { ParseArgsConfig } from 'node:util';

import { hashPassword, MIN_PASSWORD_LENGTH } from '../console/passwords.js';
import { isRole, ROLES } from '../console/roles.js';
import { checkUsername, createUser, listUsers } from '../console/users.js';
import { type CliIo, CONFIG_OPTION, DATABASE_USAGE, parseCommandLine, runSubcommands, UsageError, withDb } from './command.js';
import type { Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { AirlockError, asAirlockError } from '../errors/airlock-error.js';


export interface UserCommandDeps {
  /** Opens the database; the command closes it. Defaults to openCommandDb() (--config and the environment). */
  openDb?: () => Promise<Db>;
  /** All of standard input, for --password-stdin. */
  readStdin?: () => Promise<string>;
}

const USAGE = `usage:
  airlock user add <username> --role viewer|approver|admin [--password-stdin] [--display-name NAME]
                   [--config airlock.config.json]
      Creates a console user. Policies name them as web:<username>. Without --password-stdin a password is
      generated and printed once. viewer reads; approver also decides; admin also manages the console.
  airlock user list [--config airlock.config.json]
${DATABASE_USAGE}`;

export async function runUserCommand(argv: string[], io: CliIo, deps: UserCommandDeps = {}): Promise<number> {
  return runSubcommands(
    'user',
    USAGE,
    argv,
    io,
    {
      add: (rest) => add(rest, io, deps),
      list: async (rest) => {
        const { values } = parse(rest, CONFIG_OPTION);
        return withDb(deps.openDb, { config: values.config, existing: true }, async (db) => {
          const users = await listUsers(db);
          if (users.length === 0) io.stdout('no console users yet: add one with `airlock user add <username> --role admin`');
          for (const user of users) {
            io.stdout(`${user.username.padEnd(24)} ${user.role.padEnd(9)} ${user.disabledAt ? 'disabled' : 'active  '} ${user.displayName ?? ''}`.trimEnd());
          }
          return 0;
        });
      },
    },
    (error) => {
      const failure = asAirlockError(error);
      return { message: failure.message, exitCode: failure.code === 'CONFLICT' ? 1 : 2 };
    },
  );
}

async function add(argv: string[], io: CliIo, deps: UserCommandDeps): Promise<number> {
  const { values, positionals } = parse(argv, {
    role: { type: 'string' },
    'password-stdin': { type: 'boolean' },
    'display-name': { type: 'string' },
    ...CONFIG_OPTION,
  });
  const [username, ...extra] = positionals;
  if (username === undefined || extra.length > 0) throw new UsageError('give exactly one username');
  const problem = checkUsername(username);
  if (problem) throw new UsageError(problem);
  const role = values.role;
  if (role === undefined || !isRole(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  let password: string;
  if (values['password-stdin']) {
    // One trailing newline is what `echo` and most secret stores add; anything else is part of the password.
    password = (await (deps.readStdin ?? readStdin)()).replace(/\r?\n$/, '');
    if (password.length < MIN_PASSWORD_LENGTH) throw new UsageError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  } else {
    password = randomBytes(18).toString('base64url');
  }
  const passwordHash = await hashPassword(password);
  return withDb(deps.openDb, { config: values.config }, async (db) => {
    const { error } = await migrate(db);
    if (error) throw error;
    await createUser(db, { username, role, passwordHash, displayName: values['display-name'] }, new Date());
    io.stdout(`created ${role} "${username}" (policies name them web:${username})`);
    if (!values['password-stdin']) io.stdout(`password: ${password}\n(shown once; give it to ${username} over a private channel)`);
    return 0;
  });
}

function parse<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  return parseCommandLine(argv, options, true);
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new AirlockError('BAD_REQUEST', '--password-stdin reads the password from a pipe: printf %s "$PASSWORD" | airlock user add …');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
