/**
 * Compare a conformance run against the recorded baseline.
 *
 *   npx tsx test/conformance/compare.ts BASELINE_DIR RESULT_DIR [KNOWN_GAPS_FILE]
 *
 * KNOWN_GAPS_FILE lists, one per line as `suite/scenario: why`, scenarios the gateway is known not to pass yet
 * although the server alone does. They are reported but do not fail the run; each one is open work, named in the
 * issue tracker, and a gap that starts passing is reported so the line can be removed.
 *
 * Both directories hold the per-suite summaries written by .ci/conformance.sh (`<suite>.txt`, one line per
 * scenario: `PASS name` or `FAIL name: reason`). Every suite file in BASELINE_DIR is compared with the
 * file of the same name in RESULT_DIR. A scenario that passes in the baseline but fails, or is missing,
 * in the result is a regression: all of them are listed and the exit status is 1. Scenarios that newly
 * pass, or that fail on both sides, are reported but do not fail the comparison. A suite with no result
 * file counts as an empty result (every scenario it passed is a regression). Exit 2 on usage errors and
 * unreadable summaries.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface ScenarioResult {
  pass: boolean;
  reason?: string;
}

export type SuiteSummary = Map<string, ScenarioResult>;

/** Parse a summary file's text. Blank lines and `#` comments are ignored; other lines must match. */
export function parseSummary(text: string, source = 'summary'): SuiteSummary {
  const summary: SuiteSummary = new Map();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const pass = /^PASS (\S+)$/.exec(line);
    if (pass?.[1]) {
      summary.set(pass[1], { pass: true });
      return;
    }
    const fail = /^FAIL (\S+?):?(?: (.*))?$/.exec(line);
    if (fail?.[1]) {
      summary.set(fail[1], { pass: false, reason: fail[2] ?? '' });
      return;
    }
    throw new Error(`${source}:${index + 1}: not a PASS/FAIL line: ${line}`);
  });
  return summary;
}

export interface SuiteComparison {
  suite: string;
  /** Passed in the baseline, failed or missing in the result. */
  regressions: { scenario: string; reason: string }[];
  /** Failed (or absent) in the baseline, passed in the result. */
  improvements: string[];
  /** Failed on both sides. */
  stillFailing: string[];
  passed: number;
  failed: number;
}

export function compareSuite(suite: string, baseline: SuiteSummary, result: SuiteSummary): SuiteComparison {
  const comparison: SuiteComparison = { suite, regressions: [], improvements: [], stillFailing: [], passed: 0, failed: 0 };
  for (const outcome of result.values()) {
    if (outcome.pass) comparison.passed++;
    else comparison.failed++;
  }
  for (const [scenario, expected] of [...baseline.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const actual = result.get(scenario);
    if (expected.pass) {
      if (!actual) comparison.regressions.push({ scenario, reason: 'missing from the result (scenario did not run)' });
      else if (!actual.pass) comparison.regressions.push({ scenario, reason: actual.reason || 'failed' });
    } else if (actual?.pass) {
      comparison.improvements.push(scenario);
    } else {
      comparison.stillFailing.push(scenario);
    }
  }
  for (const [scenario, actual] of result) {
    if (!baseline.has(scenario) && actual.pass) comparison.improvements.push(scenario);
  }
  comparison.improvements.sort();
  return comparison;
}

export function compareDirs(baselineDir: string, resultDir: string): { comparisons: SuiteComparison[]; missingSuites: string[] } {
  const suites = readdirSync(baselineDir)
    .filter((file) => file.endsWith('.txt'))
    .sort();
  if (suites.length === 0) throw new Error(`no *.txt baseline summaries in ${baselineDir}`);
  const comparisons: SuiteComparison[] = [];
  const missingSuites: string[] = [];
  for (const file of suites) {
    const suite = basename(file, '.txt');
    const resultFile = join(resultDir, file);
    const baseline = parseSummary(readFileSync(join(baselineDir, file), 'utf8'), join(baselineDir, file));
    if (!existsSync(resultFile)) missingSuites.push(suite);
    const result = existsSync(resultFile) ? parseSummary(readFileSync(resultFile, 'utf8'), resultFile) : new Map();
    comparisons.push(compareSuite(suite, baseline, result));
  }
  return { comparisons, missingSuites };
}

export function parseKnownGaps(text: string): Map<string, string> {
  const gaps = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    gaps.set(colon === -1 ? line : line.slice(0, colon).trim(), colon === -1 ? '' : line.slice(colon + 1).trim());
  }
  return gaps;
}

function main(argv: string[]): number {
  if (argv.length !== 2 && argv.length !== 3) {
    process.stderr.write('usage: tsx test/conformance/compare.ts BASELINE_DIR RESULT_DIR [KNOWN_GAPS_FILE]\n');
    return 2;
  }
  const [baselineDir, resultDir, gapsFile] = argv as [string, string, string | undefined];
  const gaps = gapsFile === undefined ? new Map<string, string>() : parseKnownGaps(readFileSync(gapsFile, 'utf8'));
  let outcome: ReturnType<typeof compareDirs>;
  try {
    outcome = compareDirs(baselineDir, resultDir);
  } catch (error) {
    process.stderr.write(`compare: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  let regressions = 0;
  for (const c of outcome.comparisons) {
    const known = c.regressions.filter((r) => gaps.has(`${c.suite}/${r.scenario}`));
    const real = c.regressions.filter((r) => !gaps.has(`${c.suite}/${r.scenario}`));
    regressions += real.length;
    const status = real.length === 0 ? 'ok' : `${real.length} REGRESSION(S)`;
    process.stdout.write(`${c.suite}: ${c.passed} passed, ${c.failed} failed: ${status}\n`);
    for (const r of real) process.stdout.write(`  REGRESSION ${r.scenario}: ${r.reason}\n`);
    for (const r of known) process.stdout.write(`  known gap ${r.scenario}: ${gaps.get(`${c.suite}/${r.scenario}`)}\n`);
    for (const [key] of gaps) {
      const [suite, scenario] = key.split('/');
      if (suite === c.suite && scenario !== undefined && !c.regressions.some((r) => r.scenario === scenario)) {
        process.stdout.write(`  known gap ${scenario} now passes: remove it from the known gaps\n`);
      }
    }
    for (const s of c.improvements) process.stdout.write(`  newly passing ${s} (update the baseline)\n`);
    if (c.stillFailing.length > 0) process.stdout.write(`  failing in the baseline too: ${c.stillFailing.join(', ')}\n`);
  }
  for (const suite of outcome.missingSuites) process.stdout.write(`${suite}: no result file in ${resultDir}\n`);
  if (regressions > 0) {
    process.stdout.write(`\n${regressions} scenario(s) pass in the baseline but not in ${resultDir}\n`);
    return 1;
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = main(process.argv.slice(2));
}
