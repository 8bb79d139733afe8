#!/usr/bin/env node
// Summarise a `conformance server -o DIR` run into one sorted line per scenario:
//   PASS <scenario>
//   FAIL <scenario>: <first failing check: its error message>
// A scenario fails when any of its checks has status FAILURE (the CLI's own rule; WARNING,
// INFO and SKIPPED do not fail a scenario). Scenarios the CLI announced in its log but that left
// no checks.json (the scenario crashed) are reported as FAIL too.
//
// Usage: node summarize.mjs RESULTS_DIR [CONSOLE_LOG]
// Plain Node (no TypeScript) so .ci/conformance.sh can run it with the suite's own Node 22.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [resultsDir, consoleLog] = process.argv.slice(2);
if (!resultsDir) {
  process.stderr.write('usage: summarize.mjs RESULTS_DIR [CONSOLE_LOG]\n');
  process.exit(2);
}

// Result directories are `server-<scenario>-<ISO timestamp with : and . replaced by ->`.
const DIR_PATTERN = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

const oneLine = (value) => String(value ?? '').replace(/\s+/g, ' ').trim().slice(0, 300);

/** @type {Map<string, string>} scenario -> line */
const lines = new Map();
if (existsSync(resultsDir)) {
  for (const entry of readdirSync(resultsDir).sort()) {
    const match = DIR_PATTERN.exec(entry);
    if (!match) continue;
    const scenario = match[1];
    const file = join(resultsDir, entry, 'checks.json');
    if (!existsSync(file)) continue;
    let checks;
    try {
      checks = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      lines.set(scenario, `FAIL ${scenario}: unreadable checks.json (${oneLine(error.message)})`);
      continue;
    }
    const failures = Array.isArray(checks) ? checks.filter((check) => check?.status === 'FAILURE') : [{}];
    if (failures.length === 0) {
      lines.set(scenario, `PASS ${scenario}`);
    } else {
      const first = failures[0];
      const reason = oneLine(first.errorMessage || first.description || first.id || 'failed');
      const more = failures.length > 1 ? ` (+${failures.length - 1} more failing checks)` : '';
      lines.set(scenario, `FAIL ${scenario}: ${first.id ? `[${first.id}] ` : ''}${reason}${more}`);
    }
  }
}

// Scenarios that ran (per the console) but wrote no checks.json.
if (consoleLog && existsSync(consoleLog)) {
  const log = readFileSync(consoleLog, 'utf8');
  for (const match of log.matchAll(/^=== Running scenario: (\S+) ===$/gm)) {
    const scenario = match[1];
    if (!lines.has(scenario)) lines.set(scenario, `FAIL ${scenario}: no checks.json written (scenario crashed or was skipped)`);
  }
  for (const match of log.matchAll(/^SKIPPED: scenario '([^']+)'/gm)) {
    const scenario = match[1];
    if (lines.get(scenario)?.startsWith('FAIL') && lines.get(scenario).includes('no checks.json')) {
      lines.set(scenario, `FAIL ${scenario}: skipped by the CLI (not applicable at this spec version)`);
    }
  }
}

const sorted = [...lines.keys()].sort().map((scenario) => lines.get(scenario));
process.stdout.write(sorted.length > 0 ? `${sorted.join('\n')}\n` : '');
