#!/usr/bin/env node
// Part of scripts/prometheus/check.sh: the dashboard's expressions parse, and a live /metrics passes
// `promtool check metrics` and exposes every metric the dashboard and the alerts use.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const fail = (msg) => {
  console.error(`prometheus-check: ${msg}`);
  process.exit(1);
};
const promtool = (args, input) => {
  const r = spawnSync('promtool', args, { input, encoding: 'utf8' });
  if (r.status !== 0) fail(`promtool ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
};

const dashboard = JSON.parse(readFileSync('deploy/grafana/webdial-dashboard.json', 'utf8'));
const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
if (exprs.length === 0) fail('the dashboard has no queries');
// Grafana's variables become what Prometheus would get: a range and a match-all.
const concrete = (e) => e.replace(/\$__rate_interval/g, '5m').replace(/\$instance/g, '.*');
const tmp = mkdtempSync(join(tmpdir(), 'webdial-promcheck-'));
const rules = ['groups:', '  - name: dashboard', '    rules:', ...exprs.flatMap((x, i) => [`      - record: webdial:dashboard:${i}`, `        expr: ${JSON.stringify(concrete(x.expr))}`])].join('\n');
writeFileSync(join(tmp, 'dashboard-rules.yml'), `${rules}\n`);
promtool(['check', 'rules', join(tmp, 'dashboard-rules.yml')]);
console.log(`prometheus-check: the dashboard's ${exprs.length} queries parse`);

const used = new Set();
const alerts = readFileSync('deploy/prometheus/alerts.yml', 'utf8');
for (const text of [...exprs.map((x) => x.expr), alerts]) for (const m of text.matchAll(/\b((?:webdial|nodejs|process)_[a-z0-9_]+)/g)) used.add(m[1]);

(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'webdial-promcheck-data-'));
  const child = spawn(process.execPath, ['bin/webdial.js', 'serve'], {
    env: { ...process.env, PORT: '0', WEBDIAL_DATA_DIR: dataDir, WEBDIAL_DEMO: '1', LOG_LEVEL: 'warn', WEBDIAL_EVENT_STORE: 'sqlite', WEBDIAL_READ_DB: 'sqlite', WEBDIAL_BUS: 'memory', WEBDIAL_MEDIA: 'simulator' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const stop = () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill('SIGTERM'))));
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not start in 60 s:\n${out}`)), 60_000);
      child.stdout.on('data', () => {
        const m = /listening on (http:\/\/\S+)\/graphql/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`the server exited with ${code}:\n${out}`)));
    });
    // One operation of each kind, so the request metrics have samples too.
    await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    const text = await (await fetch(`${url}/metrics`)).text();
    promtool(['check', 'metrics'], text);
    console.log(`prometheus-check: live /metrics passes promtool check metrics (${text.split('\n').filter((l) => l && !l.startsWith('#')).length} samples)`);
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)/gm)].flatMap(([, name, type]) => (type === 'histogram' ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name])));
    const missing = [...used].filter((n) => !exposed.has(n));
    if (missing.length) fail(`used by the dashboard or the alerts but not exposed by /metrics: ${missing.join(', ')}`);
    console.log(`prometheus-check: the ${used.size} metrics the dashboard and the alerts use are all exposed`);
  } finally {
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
})().catch((e) => fail(e.message));
