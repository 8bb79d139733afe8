/** Minimal flag reading for the CLI: `--name value` and `--name=value`; the rest are positionals. */
export function readFlags(argv: readonly string[]): { flags: Map<string, string>; positionals: string[] } {
  const flags = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq !== -1) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else {
      const next = argv[i + 1];
      flags.set(arg.slice(2), next !== undefined && !next.startsWith('--') ? next : 'true');
      if (next !== undefined && !next.startsWith('--')) i += 1;
    }
  }
  return { flags, positionals };
}
