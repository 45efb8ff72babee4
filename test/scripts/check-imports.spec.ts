// scripts/check-imports.js (a lint step) against small trees written here: each rule is broken once
// to watch the check fail, and the repository itself must pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const repo = join(__dirname, '..', '..', '..');
const { check } = require(join(repo, 'scripts', 'check-imports.js')) as { check(root: string): { files: number; problems: string[] } };

const DOC = `# Architecture

| Folder | What lives there | May import |
|---|---|---|
| \`src/domain/\` | deciders | nothing outside \`src/domain/\` |
| \`src/ports/\` | interfaces | \`src/domain/\` |
| \`src/app/\` | use cases | \`src/domain/\`, \`src/ports/\`, the Views (\`src/read/*/view.ts\`); types only: the queries (\`src/read/index.ts\`) |
| \`src/read/\` | read side \\| views | \`src/domain/\`; never \`src/app/\` |
| \`src/adapters/\` | adapters | \`src/ports/\` |
| \`src/top/\` | a root | everything |
| \`src/cli/\` | the command line | everything |

**Test files** (\`*.spec.ts\`, \`*.int.ts\`) may also import \`src/adapters/\`; never \`test/\`.
`;

/** A tree with the doc and these files (path → source); the check's problems for it. */
const problemsOf = (files: Record<string, string>): string[] => {
  const root = mkdtempSync(join(tmpdir(), 'check-imports-'));
  try {
    for (const [path, text] of Object.entries({ 'docs/architecture.md': DOC, ...files })) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return check(root).problems;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
};

const clean: Record<string, string> = {
  'src/domain/call.ts': "export type Call = { id: string };\n",
  'src/domain/x.d.ts': "import '../top/root';\n", // declaration files are not checked
  'src/ports/store.ts': "import type { Call } from '../domain/call';\nexport interface Store { get(id: string): Promise<Call> }\n",
  'src/read/calls/view.ts': "import type { Call } from '../../domain/call';\nexport const view = (c: Call) => c;\n",
  'src/read/index.ts': 'export const queries = {};\nexport type Queries = typeof queries;\n',
  'src/app/use.ts': "import { view } from '../read/calls/view';\nimport type { Queries } from '../read';\nimport type { Store } from '../ports/store.js';\nexport { view };\nexport type Q = Queries | Store;\n",
  'src/adapters/memory.ts': "import type { Store } from '../ports/store';\nexport type M = Store;\n",
  'src/app/use.spec.ts': "import type { M } from '../adapters/memory';\nexport type T = M;\n",
  'src/top/root.ts': "import '../app/use';\nimport '../adapters/memory';\nimport 'node:fs';\nimport 'express';\n",
};

test('a tree that keeps the table passes', () => {
  assert.deepEqual(problemsOf(clean), []);
});

test('an import the table does not allow fails, with its file, line, target and rule', () => {
  const problems = problemsOf({ ...clean, 'src/domain/bad.ts': "// the first line\nimport type { Store } from '../ports/store';\nexport type B = Store;\n" });
  assert.deepEqual(problems, [
    'src/domain/bad.ts:2 → src/ports/store.ts (src/domain/ may not import src/ports/)',
    'circle between folders src/domain/, src/ports/: src/domain/ → src/ports/ (src/domain/bad.ts:2), src/ports/ → src/domain/ (src/ports/store.ts:1)',
  ]);
});

test('every kind of specifier is read: export from, multi-line import, require, import(), import types', () => {
  const problems = problemsOf({
    ...clean,
    'src/ports/kinds.ts': [
      "export { view } from '../read/calls/view';",
      'import {',
      '  view as v,',
      "} from '../read/calls/view';",
      "const r = require('../app/use') as unknown;",
      "const d = import('../adapters/memory');",
      "type T = import('../top/root').X;",
      'export { v, r, d };',
      'export type { T };',
      '',
    ].join('\n'),
  });
  assert.deepEqual(problems.filter((p) => !p.startsWith('circle')), [
    'src/ports/kinds.ts:1 → src/read/calls/view.ts (src/ports/ may not import src/read/)',
    'src/ports/kinds.ts:2 → src/read/calls/view.ts (src/ports/ may not import src/read/)',
    'src/ports/kinds.ts:5 → src/app/use.ts (src/ports/ may not import src/app/)',
    'src/ports/kinds.ts:6 → src/adapters/memory.ts (src/ports/ may not import src/adapters/)',
    'src/ports/kinds.ts:7 → src/top/root.ts (src/ports/ may not import src/top/)',
  ]);
});

test('a path allowed for types only fails on a value import; a glob allows only what it names; "never" prose allows nothing', () => {
  const problems = problemsOf({
    ...clean,
    'src/app/more.ts': "import { queries } from '../read';\nimport { x } from '../read/calls/other';\nexport { queries, x };\n",
    'src/read/calls/other.ts': "import type { Q } from '../../app/use';\nexport const x = 1 as unknown as Q;\n",
  });
  assert.deepEqual(problems, [
    'src/app/more.ts:1 → src/read/index.ts (src/app/ may not import src/read/, types only)',
    'src/app/more.ts:2 → src/read/calls/other.ts (src/app/ may not import src/read/)',
    'src/read/calls/other.ts:1 → src/app/use.ts (src/read/ may not import src/app/)',
    'circle between folders src/app/, src/read/: src/app/ → src/read/ (src/app/more.ts:1), src/read/ → src/app/ (src/read/calls/other.ts:1)',
  ]);
});

test('test files may import what the rule adds, never test/; a folder missing from the table fails', () => {
  const problems = problemsOf({
    ...clean,
    'src/ports/store.int.ts': "import '../adapters/memory';\nimport '../../test/support/db';\n",
    'test/support/db.ts': 'export {};\n',
    'src/extra/thing.ts': 'export {};\n',
  });
  assert.deepEqual(problems, [
    'src/extra/thing.ts: folder src/extra/ is not in docs/architecture.md\'s table',
    'src/ports/store.int.ts:2 → test/support/db.ts (src/ports/ may not import test/)',
  ]);
});

test('a circle between folders fails even when every import in it is allowed ("everything")', () => {
  const problems = problemsOf({ ...clean, 'src/cli/main.ts': "import '../top/root';\n", 'src/top/run.ts': "export { main } from '../cli/main';\n" });
  assert.deepEqual(problems, ['circle between folders src/cli/, src/top/: src/cli/ → src/top/ (src/cli/main.ts:1), src/top/ → src/cli/ (src/top/run.ts:1)']);
});

test("a test file's imports make no circle between folders", () => {
  assert.deepEqual(problemsOf({ ...clean, 'src/cli/main.ts': "import '../top/root';\n", 'src/top/run.spec.ts': "import '../cli/main';\n" }), []);
});

test('the repository keeps docs/architecture.md', () => {
  assert.deepEqual(check(repo).problems, []);
});
