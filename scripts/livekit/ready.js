#!/usr/bin/env node
// Readiness of the SIP API: livekit-server answers a SIP request only once livekit-sip has
// registered through Redis ("sip not connected (redis required)" before). Exit 0 when it answers.
'use strict';
const { readFileSync } = require('node:fs');
const { SipClient } = require('livekit-server-sdk');

const env = Object.fromEntries(
  readFileSync(process.argv[2], 'utf8')
    .split('\n')
    .filter((l) => l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);
new SipClient(env.LIVEKIT_URL, env.LIVEKIT_API_KEY, env.LIVEKIT_API_SECRET)
  .listSipOutboundTrunk()
  .then(() => process.exit(0))
  .catch((e) => {
    if (process.env.LIVEKIT_READY_VERBOSE) console.error(e.message);
    process.exit(1);
  });
