#!/usr/bin/env node
// Runs the compiled test files with node's built-in runner.
//   node scripts/test.js            every tier: unit, integration, e2e, browser, cluster
//   node scripts/test.js unit       *.spec.js   (pure, no services)
//   node scripts/test.js integration *.int.js   (real SQLite, PostgreSQL, Kafka)
//   node scripts/test.js e2e        *.e2e.js    (the real server over HTTP and WebSocket)
//   node scripts/test.js browser    *.browser.js (the pages in Debian's Chromium, through playwright-core)
//   node scripts/test.js cluster    *.cluster.js (`webdial stack`: instances behind HAProxy on PostgreSQL, Kafka, Redis)
// Extra arguments after the tier are passed to `node --test` (e.g. --test-name-pattern=...).
'use strict';
const { readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { spawnSync } = require('node:child_process');

const tiers = { unit: '.spec.js', integration: '.int.js', e2e: '.e2e.js', browser: '.browser.js', cluster: '.cluster.js' };
const [tierArg, ...rest] = process.argv.slice(2);
const chosen = tierArg && tiers[tierArg] ? [tierArg] : Object.keys(tiers);
const extra = tierArg && tiers[tierArg] ? rest : process.argv.slice(2);

const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
const all = ['dist/src', 'dist/test'].flatMap((d) => {
  try { return walk(d); } catch { return []; }
});

let failed = false;
for (const tier of chosen) {
  const files = all.filter((f) => f.endsWith(tiers[tier])).sort();
  if (files.length === 0) continue;
  console.log(`\n# ${tier}: ${files.length} file(s)`);
  const r = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=1', ...extra, ...files], {
    stdio: 'inherit',
    env: { ...process.env, WEBDIAL_TEST_TIER: tier },
  });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
