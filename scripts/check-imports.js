#!/usr/bin/env node
// Lint step: the folder map in docs/architecture.md is the rule, and this script holds it to the code.
// It reads the doc's table ("Folder | What lives there | May import"), resolves every relative import of
// every src/**/*.ts file (import, export … from, import type, import(), require(), import('…').T) to the
// top-level folder it lands in, and prints each import the table does not allow, then each circle
// between folders. Exit 1 when there is any.
//   node scripts/check-imports.js                 the repository (run by `npm run lint`)
//   node scripts/check-imports.js <root>          another tree laid out the same way (the spec's fixtures)
// The rules live in the doc only; what the "May import" column means is written under the table.
'use strict';
const { readFileSync, readdirSync, statSync, existsSync } = require('node:fs');
const { join, relative, resolve, dirname, sep } = require('node:path');
const ts = require('typescript');

const posix = (p) => p.split(sep).join('/');
const repoRoot = resolve(__dirname, '..');

/** Splits a markdown table row into its cells, keeping `\|` inside a cell. */
const cells = (line) =>
  line
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());

const backticked = (text) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

/**
 * The table's rules: folder → { everything, allowed, typesOnly: patterns }. A pattern ending in `/` is a
 * folder (everything under it); one with `*` is a glob over file paths (`*` stays inside one path segment).
 */
function parseRules(markdown) {
  const lines = markdown.split('\n');
  const head = lines.findIndex((l) => /^\|\s*Folder\s*\|.*\|\s*May import\s*\|\s*$/.test(l));
  if (head < 0) throw new Error('docs/architecture.md: no "| Folder | … | May import |" table');
  const header = cells(lines[head]);
  const mayCol = header.indexOf('May import');
  const rules = new Map();
  for (let i = head + 2; i < lines.length && lines[i].trim().startsWith('|'); i++) {
    const row = cells(lines[i]);
    const [folder] = backticked(row[0]);
    if (!folder || !folder.startsWith('src/')) throw new Error(`docs/architecture.md:${i + 1}: the first cell names no src/ folder`);
    const may = (row[mayCol] ?? '').split(/\bnever\b/i)[0]; // what follows "never" names what is not allowed
    const cut = may.search(/types only:/i);
    const paths = (text) => backticked(text).filter((t) => t.startsWith('src/') || t.startsWith('test/'));
    rules.set(folder, {
      everything: /^everything\b/i.test(may.trim()),
      allowed: paths(cut < 0 ? may : may.slice(0, cut)),
      typesOnly: cut < 0 ? [] : paths(may.slice(cut)),
    });
  }
  return rules;
}

/** The test-file rule under the table: "… `*.spec.ts` … may also import `X`, `Y` …". */
function parseTestRule(markdown) {
  const line = markdown.split('\n').find((l) => /^\*\*Test files\*\*/.test(l));
  if (!line) throw new Error('docs/architecture.md: no "**Test files**" paragraph');
  const also = line.indexOf('may also import');
  const never = line.indexOf('never', also);
  return {
    suffixes: backticked(line.slice(0, also)).filter((t) => t.startsWith('*')).map((t) => t.slice(1)),
    allowed: backticked(line.slice(also, never < 0 ? undefined : never)).filter((t) => t.startsWith('src/') || t.startsWith('test/')),
  };
}

const globRe = (pattern) =>
  new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$');

const matches = (pattern, target) =>
  pattern.endsWith('/') ? target.startsWith(pattern) : pattern.includes('*') ? globRe(pattern).test(target) : target === pattern;

/** `src/app/calls/x.ts` → `src/app/`; a file directly in src/ is its own folder; `test/support/x.ts` → `test/`. */
const folderOf = (file) => {
  const parts = file.split('/');
  if (parts[0] !== 'src') return parts.length > 1 ? `${parts[0]}/` : parts[0];
  return parts.length > 2 ? `src/${parts[1]}/` : file;
};

const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });

/** Every module specifier in a file, with its line and whether it is type-only. */
function specifiers(file, text) {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out = [];
  const add = (node, lit, typeOnly) => {
    if (lit && ts.isStringLiteralLike(lit)) out.push({ spec: lit.text, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, typeOnly });
  };
  const visit = (node) => {
    if (ts.isImportDeclaration(node)) add(node, node.moduleSpecifier, !!node.importClause?.isTypeOnly);
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier) add(node, node.moduleSpecifier, node.isTypeOnly);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node, node.moduleReference.expression, node.isTypeOnly);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal, true);
    else if (ts.isCallExpression(node) && node.arguments.length === 1) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) add(node, node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** A relative specifier → the repository path of the file it loads (or of the folder, when unresolved). */
function resolveSpec(root, fromFile, spec) {
  const base = resolve(root, dirname(fromFile), spec);
  const stem = base.replace(/\.(js|ts)$/, '');
  for (const c of [`${stem}.ts`, `${stem}.d.ts`, join(stem, 'index.ts'), base]) {
    if (existsSync(c) && statSync(c).isFile()) return posix(relative(root, c));
  }
  return posix(relative(root, base));
}

/** Strongly connected components of size > 1 (Tarjan). */
function circles(graph) {
  let index = 0;
  const idx = new Map(), low = new Map(), stack = [], on = new Set(), out = [];
  const strong = (v) => {
    idx.set(v, index); low.set(v, index++); stack.push(v); on.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!idx.has(w)) { strong(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do { w = stack.pop(); on.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  return out;
}

/** One loop through a component, as folder names: a → b → … → a (breadth-first from its first member). */
function loopIn(graph, comp) {
  const members = new Set(comp);
  const start = comp[0];
  const prev = new Map([[start, null]]);
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    for (const w of graph.get(v).keys()) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let x = v; x !== start; x = prev.get(x)) path.splice(1, 0, x);
        return [...path, start];
      }
      if (!prev.has(w)) { prev.set(w, v); queue.push(w); }
    }
  }
  return comp;
}

function check(root) {
  const doc = readFileSync(join(root, 'docs/architecture.md'), 'utf8');
  const rules = parseRules(doc);
  const testRule = parseTestRule(doc);
  const files = walk(join(root, 'src'))
    .map((f) => posix(relative(root, f)))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .sort();
  const problems = [];
  const graph = new Map(); // folder → folder → first import seen ("file:line")
  for (const file of files) {
    const from = folderOf(file);
    const rule = rules.get(from);
    if (!rule) {
      problems.push(`${file}: folder ${from} is not in docs/architecture.md's table`);
      continue;
    }
    const isTest = testRule.suffixes.some((s) => file.endsWith(s));
    for (const { spec, line, typeOnly } of specifiers(file, readFileSync(join(root, file), 'utf8'))) {
      if (!spec.startsWith('.')) continue; // packages and node's built-ins: not this check's business
      const target = resolveSpec(root, file, spec);
      const to = folderOf(target);
      if (to === from) continue;
      if (!isTest) {
        if (!graph.has(from)) graph.set(from, new Map());
        if (!graph.get(from).has(to)) graph.get(from).set(to, `${file}:${line}`);
      }
      if (rule.everything && !to.startsWith('test/')) continue;
      if (rule.allowed.some((p) => matches(p, target))) continue;
      if (typeOnly && rule.typesOnly.some((p) => matches(p, target))) continue;
      if (isTest && testRule.allowed.some((p) => matches(p, target))) continue;
      const typesOnly = !typeOnly && rule.typesOnly.some((p) => matches(p, target)) ? ', types only' : '';
      problems.push(`${file}:${line} → ${target} (${from} may not import ${to}${typesOnly})`);
    }
  }
  for (const comp of circles(graph)) {
    const loop = loopIn(graph, comp);
    const steps = loop.slice(1).map((to, i) => `${loop[i]} → ${to} (${graph.get(loop[i]).get(to)})`);
    problems.push(`circle between folders ${comp.join(', ')}: ${steps.join(', ')}`);
  }
  return { files: files.length, problems };
}

module.exports = { check, parseRules, parseTestRule, specifiers, folderOf, matches };

if (require.main === module) {
  const root = resolve(process.argv[2] ?? repoRoot);
  const { files, problems } = check(root);
  for (const p of problems) console.log(p);
  if (problems.length) {
    console.log(`\ncheck-imports: ${problems.length} problem(s) with docs/architecture.md's folder table (${files} files)`);
    process.exit(1);
  }
  console.log(`check-imports: ${files} files, every import as docs/architecture.md's table allows, no circle between folders`);
}
