#!/usr/bin/env node
'use strict';
// `webdial events read … | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e) => {
  if (e && e.code === 'EPIPE') process.exit(0);
  throw e;
});
require('../dist/src/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => {
    if (typeof code === 'number') process.exitCode = code;
  })
  .catch((e) => {
    console.error(`webdial: ${e && e.message ? e.message : e}`);
    process.exitCode = 1;
  });
