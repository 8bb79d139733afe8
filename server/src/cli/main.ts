/**
 * `airlock` command line: argument parsing only; the work happens in gateway/ and the command modules.
 * Every failure ends with one clear message on stderr and a non-zero exit, never a stack trace.
 */
import { AirlockError } from '../errors/airlock-error.js';
import { type CliIo, UsageError } from './command.js';
import { runAuditCommand } from './audit-command.js';
import { runConnect } from './connect-command.js';
import { runMigrateCommand } from './migrate-command.js';
import { runPolicyCommand } from './policy-command.js';
import { runStdioWrapper } from './run-command.js';
import { runServe } from './serve-command.js';
import { runUserCommand } from './user-command.js';

const USAGE = `usage:
  airlock serve [--config airlock.config.json]
  airlock run [--policy policy.json] [--name N] -- <upstream command…>
  airlock connect <gateway MCP url>   (the grant's key in AIRLOCK_KEY)
  airlock policy validate <file>
  airlock policy check <file> --tool NAME --args JSON [--grant G]
  airlock audit verify | airlock audit export --format jsonl [--since T]
  airlock user add <username> --role viewer|approver|admin [--password-stdin] | airlock user list
  airlock migrate
  (audit, user and migrate take --config airlock.config.json: the database serve uses with that file)`;


const io: CliIo = {
  stdout: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  stderr: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    return await runCommand(command, rest);
  } catch (error) {
    // A misspelt option must stop the command: `run --polcy p.json` would otherwise wrap the server unguarded.
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`airlock ${command}: ${error.message}\n${USAGE}`);
    return 2;
  }
}

async function runCommand(command: string | undefined, rest: string[]): Promise<number> {
  switch (command) {
    case 'serve':
      return runServe(rest, io);
    case 'run':
      return runStdioWrapper(rest, io);
    case 'connect':
      return runConnect(rest, io);
    case 'policy':
      return runPolicyCommand(rest, io);
    case 'audit':
      return runAuditCommand(rest, io);
    case 'migrate':
      return runMigrateCommand(rest, io);
    case 'user':
      return runUserCommand(rest, io);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      io.stdout(USAGE);
      return command === undefined ? 2 : 0;
    default:
      io.stderr(`airlock: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof AirlockError ? error.message : `unexpected error: ${(error as Error)?.stack ?? String(error)}`;
    io.stderr(`airlock: ${message}`);
    // 78 (EX_CONFIG): the config or the policy it names is wrong, which a restart alone will not fix.
    process.exitCode = error instanceof AirlockError && (error.code === 'CONFIG_INVALID' || error.code === 'POLICY_INVALID') ? 78 : 1;
  },
);
