import 'reflect-metadata';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, type Config } from '../composition/config';
import { createLogger } from '../composition/logger';
import { startWebdial, type Webdial } from '../composition/app';
import { installLastResort } from '../composition/last-resort';
import { schemaSdl } from '../graphql/schema';
import type { DemoSeed } from '../composition/demo';
import { demoCalls } from './demo-calls';
import { createEventStore } from '../adapters/eventstore';
import { eventsCommand } from './events';
import { deadLettersCommand, deadLettersRequest, type DeadLettersRequest } from './dead-letters';
import { openReadModels } from '../projections';
import { billingCommand, projectionsCommand } from './projections';
import { helpText, intOption, parseCommand, UsageError, type CommandSpec, type Parsed } from './args';
import { COMMANDS, GROUPS, overview, type CommandName } from './commands';
import { PAGES } from '../composition/pages';
import { stackCommand } from './stack';

/** `webdial <group> --help`: the group's subcommands. */
const groupHelp = (group: string): string =>
  [`usage: webdial ${group} <${GROUPS[group].join('|')}> [options]`, '', ...GROUPS[group].map((sub) => `  ${helpText(COMMANDS[`${group} ${sub}` as CommandName]).split('\n')[0].replace(/^usage: /, '')}`), '', `webdial ${group} <subcommand> --help for its options.`].join('\n');

/** Finds the command (a group takes its subcommand) and parses its arguments; help and usage mistakes are answered here. */
const resolve = (argv: string[]): { name: CommandName; parsed: Parsed; rest: string[] } | number => {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(overview());
    return command === undefined ? 1 : 0;
  }
  let name: string = command;
  let args = rest;
  if (GROUPS[command]) {
    const [sub, ...more] = rest;
    if (sub === undefined || sub === '--help' || sub === '-h') {
      (sub ? console.log : console.error)(groupHelp(command));
      return sub ? 0 : 2;
    }
    name = `${command} ${sub}`;
    args = more;
    if (!(name in COMMANDS)) {
      console.error(`webdial: unknown ${command} command "${sub}"\n\n${groupHelp(command)}`);
      return 2;
    }
  } else if (!(name in COMMANDS)) {
    console.error(`webdial: unknown command "${command}"\n\n${overview()}`);
    return 1;
  }
  const spec: CommandSpec = COMMANDS[name as CommandName];
  try {
    const parsed = parseCommand(spec, args);
    if (parsed.help) {
      console.log(helpText(spec));
      return 0;
    }
    return { name: name as CommandName, parsed, rest };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`webdial: ${e.message}\nusage: ${e.usage}\n(webdial ${name} --help for details)`);
    return 2;
  }
};

export const main = async (argv: string[]): Promise<number> => {
  const r = resolve(argv);
  if (typeof r === 'number') return r;
  const { name, parsed, rest } = r;
  try {
    switch (name) {
      case 'serve':
        return await serve(loadConfig());
      case 'stack':
        return await stackCommand(parsed);
      case 'schema':
        return await schema(parsed.values.check === true);
      case 'demo-calls':
        return await runDemoCalls(loadConfig(), parsed);
      case 'events tail':
      case 'events read':
      case 'events stats':
        return await events(loadConfig(), rest);
      case 'events dead-letters':
        return await deadLetters(loadConfig(), deadLettersRequest(parsed));
      case 'projections rebuild':
        return await projections(loadConfig(), rest);
      case 'billing rerate':
        return await billing(loadConfig(), rest);
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`webdial: configuration error: ${e.message}`);
      return 2;
    }
    if (e instanceof UsageError) {
      console.error(`webdial: ${e.message}\nusage: ${e.usage}`);
      return 2;
    }
    throw e;
  }
};

const serve = async (config: Config): Promise<number> => {
  // Whatever the server writes (SQLite files and their -wal/-shm, checkpoints, secrets) is its own.
  process.umask(0o077);
  const logger = createLogger(config.logLevel);
  // The SDK is loaded only when the OTEL_* variables switch tracing on.
  const tracing = config.tracing ? (require('../observability/otel') as typeof import('../observability/otel')).startTracing(config.tracing) : null;
  // Signals are caught before the server listens: a SIGTERM that lands between the listen and the
  // end of start-up (an orchestrator's quick stop) still stops cleanly, with its snapshots written.
  let signalled: string | null = null;
  let onSignal: (signal: string) => void = (signal) => {
    signalled = signal;
  };
  // `on`, not `once`: a library's signal-exit hook re-raises the signal when it finds no other
  // listener left, which killed the process mid-shutdown (its snapshots and checkpoints unwritten).
  let seen = false;
  const caught = (signal: string) => {
    if (seen) return;
    seen = true;
    onSignal(signal);
  };
  process.on('SIGINT', caught);
  process.on('SIGTERM', caught);
  let app: Webdial;
  try {
    app = await startWebdial(config, logger);
  } catch (e) {
    console.error(`webdial: cannot start: ${(e as Error).message}`);
    await tracing?.shutdown().catch(() => undefined);
    return 1;
  }
  printBanner(app, config);
  installLastResort(logger, app.metrics, () => app.stop());
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      console.log(`\n${signal}: shutting down…`);
      app
        .stop()
        .catch((e) => logger.error({ err: e }, 'shutdown failed'))
        .then(() => tracing?.shutdown())
        .catch((e) => logger.error({ err: e }, 'tracing: the last spans could not be exported'))
        .finally(resolve);
    };
    onSignal = stop;
    if (signalled) stop(signalled);
  });
  exitWhenIdle(logger);
  return 0;
};

/**
 * After a clean shutdown the process ends when its event loop is empty. A handle a library keeps
 * (a socket it never closes) must not hold a stopped server for its supervisor's kill timeout (a
 * rolling restart waited 20 s for SIGKILL): what is still open a second later is named in the log
 * and the process exits anyway.
 */
const exitWhenIdle = (logger: ReturnType<typeof createLogger>): void => {
  setTimeout(() => {
    logger.warn({ resources: process.getActiveResourcesInfo() }, 'shutdown: stopped, but handles are still open; exiting anyway');
    process.exit(process.exitCode ?? 0);
  }, 1_000).unref();
};

/** What a demo call is in this media mode (issue 22: the banner said "simulated" in LiveKit mode too). */
export const callWord = (media: Config['media']): string =>
  media === 'livekit'
    ? 'Place a real call through LiveKit SIP (the call center number is dialled; the browser page carries the audio)'
    : media === 'external'
      ? 'Place a call (external media: nothing is dialled here; your gateway reports progress with the GATEWAY mutations)'
      : 'Place a simulated call (the call-center simulator plays the other side; no audio)';
const centerWord = (media: Config['media']): string =>
  media === 'livekit' ? 'real audio through LiveKit' : media === 'external' ? 'progress from your gateway' : 'simulated call center';

const printBanner = (app: Webdial, config: Config) => {
  const lines = [
    `webdial is listening on ${app.url} (WebSocket: ${app.url.replace(/^http/, 'ws')})`,
    `  mode: event store ${config.eventStore}, bus ${config.bus}, read models ${config.readDb}, media ${config.media}; data in ${config.dataDir}`,
    ...(config.tracing ? [`  tracing: on, ${config.tracing.exporter === 'otlp' ? `OTLP/HTTP to ${config.tracing.otlp.url}` : 'console'} (service ${config.tracing.serviceName}, sampler ${config.tracing.sampler.name})`] : []),
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
      `${callWord(config.media)} (copy-paste):`,
      `  curl -s ${app.url} -H 'content-type: application/json' -d '{"query":"mutation { recordDownload(input: {merchantId: \\"${d.merchantId}\\", linkId: \\"${d.linkId}\\", customerId: \\"c-1\\", pageUrl: \\"https://shop.example/product/1\\"}) { callId callToken } }"}'`,
      `  curl -s ${app.url} -H 'content-type: application/json' -d '{"query":"mutation($t: String!) { initiateCall(callToken: $t) { id state callCenterId ani } }","variables":{"t":"<callToken from above>"}}'`,
      `  curl -s ${app.url} -H 'content-type: application/json' -H 'authorization: Bearer ${d.keys.merchant}' -d '{"query":"{ calls(first: 5) { edges { node { id state talkSeconds charge { amountMinor currency } } } } }"}'`,
      'Or drive many: npx webdial demo-calls --count 20',
      `Or open ${app.url.replace(/\/graphql$/, '/demo')} for a shop page with the call button (${centerWord(config.media)}),`,
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

const runDemoCalls = async (config: Config, parsed: Parsed): Promise<number> => {
  const spec = COMMANDS['demo-calls'];
  const count = intOption(spec, parsed.values.count, 'count', 10);
  const concurrency = intOption(spec, parsed.values.concurrency, 'concurrency', 4);
  const url = typeof parsed.values.url === 'string' ? parsed.values.url : `http://127.0.0.1:${config.port || 4000}/graphql`;
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
  const store = await openStore(config);
  try {
    return await eventsCommand(args, store, process.stdout);
  } finally {
    await store.close();
  }
};

/** Dead letters live in the read database, not in the event store. */
const deadLetters = async (config: Config, request: DeadLettersRequest): Promise<number> => {
  if (config.readDb === 'sqlite' && !existsSync(join(config.dataDir, 'read.db'))) {
    console.error(`webdial: no read database at ${join(config.dataDir, 'read.db')}: point WEBDIAL_DATA_DIR at the server's data directory`);
    return 1;
  }
  const reads = await openReadModels({ kind: config.readDb, dataDir: config.dataDir, databaseUrl: config.readDatabaseUrl ?? undefined });
  try {
    return await deadLettersCommand(request, reads, process.stdout);
  } finally {
    await reads.close();
  }
};

const projections = async (config: Config, args: string[]): Promise<number> => {
  return projectionsCommand(config, args, await openStore(config));
};

const billing = async (config: Config, args: string[]): Promise<number> => {
  return billingCommand(config, args);
};
