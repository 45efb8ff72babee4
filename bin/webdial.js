#!/usr/bin/env node
'use strict';
require('../dist/src/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => {
    if (typeof code === 'number') process.exitCode = code;
  })
  .catch((e) => {
    console.error(`webdial: ${e && e.message ? e.message : e}`);
    process.exitCode = 1;
  });
