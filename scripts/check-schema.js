#!/usr/bin/env node
// Lint step: fails when schema.graphql is not what the code generates (needs a build first).
'use strict';
const { spawnSync } = require('node:child_process');
const r = spawnSync(process.execPath, ['bin/webdial.js', 'schema', '--check'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
