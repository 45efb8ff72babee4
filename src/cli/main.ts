import 'reflect-metadata';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, type Config } from '../composition/config';
import { createLogger } from '../composition/logger';
import { startWebdial, type Webdial } from '../composition/app';
import { schemaSdl } from '../graphql/schema';
import type { DemoSeed } from '../composition/demo';
import { demoCalls } from './demo-calls';
import { createEventStore } from '../adapters/eventstore';
import { eventsCommand } from './events';
import { deadLettersCommand } from './dead-letters';
import { openReadModels } from '../projections';
import { billingCommand, projectionsCommand } from './projections';
import { PAGES } from '../composition/pages';

const USAGE = `webdial — event-sourced click-to-call backend

usage:
  webdial serve                         start the GraphQL API (HTTP + WebSocket on PORT)
  webdial schema [--check]              write schema.graphql (or fail when it is stale)
  webdial demo-calls --count N [--concurrency C] [--url URL]
                                        drive N simulated calls through a running server's public API
  webdial events tail|read <stream>|stats [--json]
                                        inspect the event store
  webdial events dead-letters [--json] | dead-letters replay <id>
                                        list the events projections set aside; apply one again
  webdial projections rebuild <name>|--all
                                        replay the event store into fresh tables, then swap them in
  webdial billing rerate --merchant M --from ISO --to ISO [--plan file.json] [--dry-run]
                                        re-rate a period and print the difference per call
Configuration comes from the environment (see README, "Configuration").`;

const flag = (args: string[], name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

export const main = async (argv: string[]): Promise<number> => {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(loadConfig());
      case 'schema':
        return await schema(args.includes('--check'));
      case 'demo-calls':
        return await runDemoCalls(loadConfig(), args);
      case 'events':
        return await events(loadConfig(), args);
      case 'projections':
        return await projections(loadConfig(), args);
      case 'billing':
        return await billing(loadConfig(), args);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return command === undefined ? 1 : 0;
      default:
        console.error(`webdial: unknown command "${command}"\n\n${USAGE}`);
        return 1;
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`webdial: configuration error: ${e.message}`);
      return 2;
    }
    throw e;
  }
};

const serve = async (config: Config): Promise<number> => {
  const logger = createLogger(config.logLevel);
  let app: Webdial;
  try {
    app = await startWebdial(config, logger);
  } catch (e) {
    console.error(`webdial: cannot start: ${(e as Error).message}`);
    return 1;
  }
  printBanner(app, config);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      console.log(`\n${signal}: shutting down…`);
      app.stop().then(resolve, (e) => {
        logger.error({ err: e }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
};

const printBanner = (app: Webdial, config: Config) => {
  const lines = [
    `webdial is listening on ${app.url} (WebSocket: ${app.url.replace(/^http/, 'ws')})`,
    `  mode: event store ${config.eventStore}, bus ${config.bus}, read models ${config.readDb}, media ${config.media}; data in ${config.dataDir}`,
    config.adminKey
      ? '  ADMIN key: from WEBDIAL_ADMIN_KEY'
      : app.adminKeyCreated
        ? `  ADMIN key (generated, saved in ${join(config.dataDir, 'admin.key')}): ${app.adminKey}`
        : `  ADMIN key: in ${join(config.dataDir, 'admin.key')}`,
  ];
  if (app.demo) {
    const d = app.demo;
    lines.push(
      '',
      `demo merchant ${d.merchantId}: call center ${d.callCenterId}, link ${d.linkId}, gateway ${d.gatewayId}`,
      `  MERCHANT key: ${d.keys.merchant}`,
      `  CRM key:      ${d.keys.crm}`,
      `  ANALYST key:  ${d.keys.analyst}`,
      `  GATEWAY key:  ${d.keys.gateway}`,
      ...(d.keys.agent ? [`  AGENT key:    ${d.keys.agent}  (the browser desk ${d.browser?.callCenterId ?? ''})`] : []),
      '',
      'Place a simulated call (copy-paste):',
      `  curl -s ${app.url} -H 'content-type: application/json' -d '{"query":"mutation { recordDownload(input: {merchantId: \\"${d.merchantId}\\", linkId: \\"${d.linkId}\\", customerId: \\"c-1\\", pageUrl: \\"https://shop.example/product/1\\"}) { callId callToken } }"}'`,
      `  curl -s ${app.url} -H 'content-type: application/json' -d '{"query":"mutation($t: String!) { initiateCall(callToken: $t) { id state callCenterId ani } }","variables":{"t":"<callToken from above>"}}'`,
      `  curl -s ${app.url} -H 'content-type: application/json' -H 'authorization: Bearer ${d.keys.merchant}' -d '{"query":"{ calls(first: 5) { edges { node { id state talkSeconds charge { amountMinor currency } } } } }"}'`,
      'Or drive many: npx webdial demo-calls --count 20',
      `Or open ${app.url.replace(/\/graphql$/, '/demo')} for a shop page with the call button (simulated call center),`,
      `or ${app.url.replace(/\/graphql$/, '/demo/browser')} for one whose calls ring in the agent console (PC-to-PC).`,
    );
  }
  const base = app.url.replace(/\/graphql$/, '');
  lines.push('', "The people's pages (sign in with a key; it stays in the tab's session storage):");
  for (const p of PAGES) lines.push(`  ${p.title.padEnd(19)} ${base}${p.path.padEnd(11)} (${p.key})`);
  console.log(lines.join('\n'));
};

const schema = async (check: boolean): Promise<number> => {
  const sdl = await schemaSdl();
  const path = 'schema.graphql';
  if (check) {
    const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (current !== sdl) {
      console.error('schema.graphql is stale: run `npm run schema` and commit it');
      return 1;
    }
    console.log('schema.graphql is up to date');
    return 0;
  }
  writeFileSync(path, sdl);
  console.log(`wrote ${path}`);
  return 0;
};

const runDemoCalls = async (config: Config, args: string[]): Promise<number> => {
  const count = Number(flag(args, '--count') ?? '10');
  const concurrency = Number(flag(args, '--concurrency') ?? '4');
  if (!Number.isInteger(count) || count < 1) throw new ConfigError('--count', 'must be a positive integer');
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError('--concurrency', 'must be a positive integer');
  const url = flag(args, '--url') ?? `http://127.0.0.1:${config.port || 4000}/graphql`;
  const seedFile = join(config.dataDir, 'demo.json');
  if (!existsSync(seedFile)) {
    console.error(`webdial: no demo data in ${seedFile}: start the server with WEBDIAL_DEMO=1 first (npm start)`);
    return 1;
  }
  const seed = JSON.parse(readFileSync(seedFile, 'utf8')) as DemoSeed;
  await demoCalls(url, seed, count, concurrency);
  return 0;
};

const openStore = async (config: Config) => {
  return createEventStore({ kind: config.eventStore, dataDir: config.dataDir, databaseUrl: config.databaseUrl ?? undefined, kurrentDbUrl: config.kurrentDbUrl ?? undefined });
};

const events = async (config: Config, args: string[]): Promise<number> => {
  // Dead letters live in the read database, not in the event store.
  if (args[0] === 'dead-letters') {
    const reads = await openReadModels({ kind: config.readDb, dataDir: config.dataDir, databaseUrl: config.readDatabaseUrl ?? undefined });
    try {
      return await deadLettersCommand(args.slice(1), reads, process.stdout);
    } finally {
      await reads.close();
    }
  }
  const store = await openStore(config);
  try {
    return await eventsCommand(args, store, process.stdout);
  } finally {
    await store.close();
  }
};

const projections = async (config: Config, args: string[]): Promise<number> => {
  return projectionsCommand(config, args, await openStore(config));
};

const billing = async (config: Config, args: string[]): Promise<number> => {
  return billingCommand(config, args);
};
