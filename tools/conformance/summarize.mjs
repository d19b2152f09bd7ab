// Summarizes one `conformance server -o DIR` run, one line per scenario, for
// hack/conformance.sh (see its header for the results format). Usage:
//   node summarize.mjs DIR REVISION [--strict] [--only NAME,NAME...]
// Exits 1 when a scored scenario failed, was not run or crashed; with
// --strict, not-scored scenarios count too. --only: the run was of these
// scenarios, not of the whole requirement set.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const [dir, revision, ...flags] = process.argv.slice(2);
const strict = flags.includes('--strict');
const onlyAt = flags.indexOf('--only');
const only = onlyAt >= 0 ? flags[onlyAt + 1].split(',') : undefined;
const reqFile = join(import.meta.dirname, 'node_modules/@modelcontextprotocol/conformance/requirements', `${revision}.yaml`);
const req = parse(readFileSync(reqFile, 'utf8'));
const notScored = new Map((req.not_scored ?? []).filter((e) => e.leg === 'server').map((e) => [e.scenario, e.reason]));
const expected = only ?? [...req.server, ...notScored.keys()];

// Result dirs are server-<scenario>-<ISO time with ':' and '.' as '-'>.
const stamp = /-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;
const dirs = new Map();
for (const name of readdirSync(dir)) {
  if (name.startsWith('server-') && stamp.test(name)) dirs.set(name.slice(7).replace(stamp, ''), join(dir, name));
}

function load(scenario) {
  const d = dirs.get(scenario);
  if (!d) return { state: 'NOT-RUN', checks: [] };
  const f = join(d, 'checks.json');
  // The suite makes the dir first and writes checks.json last: a scenario
  // that threw has a dir and no file.
  if (!existsSync(f)) return { state: 'CRASHED', checks: [] };
  const checks = JSON.parse(readFileSync(f, 'utf8'));
  const failed = checks.some((c) => c.status === 'FAILURE');
  return { state: failed ? 'FAIL' : 'PASS', checks };
}

const count = (checks, status) => checks.filter((c) => c.status === status).length;
let bad = 0;
const tally = { scored: [0, 0], notScored: [0, 0] };
for (const scenario of expected) {
  const { state, checks } = load(scenario);
  const reason = notScored.get(scenario);
  const ok = state === 'PASS';
  const t = reason ? tally.notScored : tally.scored;
  t[0] += ok ? 1 : 0;
  t[1] += 1;
  if (!ok && (!reason || strict)) bad++;
  const counts = `${count(checks, 'SUCCESS')} ok, ${count(checks, 'FAILURE')} failed, ${count(checks, 'WARNING')} warnings, ${count(checks, 'SKIPPED')} skipped`;
  console.log(`${state.padEnd(7)} ${scenario.padEnd(48)} ${counts}${reason ? ` (not scored: ${reason})` : ''}`);
  for (const c of checks.filter((c) => c.status === 'FAILURE')) {
    console.log(`          - [${c.id}] ${(c.errorMessage ?? c.description).replace(/\s+/g, ' ')}`);
  }
}
console.log(
  `conformance ${revision}: ${tally.scored[0]}/${tally.scored[1]} scored scenarios pass; ` +
    `not scored: ${tally.notScored[0]}/${tally.notScored[1]} pass${strict ? ' (strict: they count)' : ''}`,
);
process.exit(bad > 0 ? 1 : 0);
