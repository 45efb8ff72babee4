import type { CommandSpec } from './args';
import { DEAD_LETTERS_COMMAND } from './dead-letters';

const JSON_OPT = { json: { type: 'boolean', description: 'one JSON object per line (the stored envelope) instead of aligned columns' } } as const;

/** Every command of `webdial`, for parsing and for `--help`. Groups (events, projections, billing) have subcommands. */
export const COMMANDS = {
  serve: {
    name: 'serve',
    summary: 'Starts the GraphQL API (HTTP + WebSocket on PORT), the projections, the relay, the webhook worker and the media.',
    details: 'Configuration comes from the environment and a .env file (README, "Configuration"); a bad value stops start-up with one line naming the variable.',
  },
  stack: {
    name: 'stack',
    summary: 'Starts the production topology on this machine: PostgreSQL, Redis, Kafka (and LiveKit with --livekit), N webdial instances behind HAProxy; prints the one URL; Ctrl-C stops it.',
    args: '[start|stop|restart|status]',
    positionals: { min: 0, max: 1 },
    options: {
      instances: { type: 'string', short: 'n', placeholder: 'N', description: 'webdial instances (default 2)' },
      port: { type: 'string', short: 'p', placeholder: 'PORT', description: "HAProxy's port, the one URL (default 4000); instance i listens on PORT+1+i, HAProxy's stats page on PORT+99" },
      name: { type: 'string', placeholder: 'NAME', description: 'PostgreSQL database, Kafka topic prefix and Redis key prefix of this deployment (default webdial_stack)' },
      dir: { type: 'string', placeholder: 'DIR', description: "shared secrets, the instances' data directories and logs, haproxy.cfg (default data/stack)" },
      livekit: { type: 'boolean', description: 'also start LiveKit and LiveKit SIP (npm run livekit:start; built with Go the first time, several minutes) and run the instances with WEBDIAL_MEDIA=livekit; without it the instances use the call-center simulator' },
      'keep-services': { type: 'boolean', description: 'at stop, leave Kafka and LiveKit running even when this stack started them (PostgreSQL and Redis are always left running)' },
    },
    details:
      'stop: stops the stack running from --dir (SIGTERM to its process). restart: a rolling restart of its instances, one at a time, each waited for (SIGHUP to its process). status: each instance\'s /readyz. Everything else comes from the environment as for `webdial serve` (WEBDIAL_SIM_*, LOG_LEVEL, …); DATABASE_URL names the PostgreSQL server (its database is only used to create NAME), KAFKA_BROKERS and REDIS_URL the others. See docs/operations.md.',
  },
  schema: {
    name: 'schema',
    summary: 'Writes schema.graphql from the code, or with --check fails when the file is stale.',
    options: { check: { type: 'boolean', description: 'compare instead of writing; exit 1 when schema.graphql differs' } },
  },
  'demo-calls': {
    name: 'demo-calls',
    summary: "Drives simulated calls through a running server's public API (demo data from WEBDIAL_DEMO=1), with a progress bar and a summary.",
    options: {
      count: { type: 'string', short: 'n', placeholder: 'N', description: 'calls to place (default 10)' },
      concurrency: { type: 'string', short: 'c', placeholder: 'C', description: 'calls at once (default 4)' },
      url: { type: 'string', placeholder: 'URL', description: 'GraphQL URL of the server (default http://127.0.0.1:$PORT/graphql)' },
    },
  },
  'events tail': {
    name: 'events tail',
    summary: "Follows the event store's global order (catch-up, then live) until Ctrl-C.",
    options: { from: { type: 'string', placeholder: 'POSITION', description: 'start after this position (default: the beginning)' }, ...JSON_OPT },
  },
  'events read': {
    name: 'events read',
    summary: "Prints one stream's events in version order.",
    args: '<streamId>',
    positionals: { min: 1, max: 1 },
    options: JSON_OPT,
  },
  'events stats': {
    name: 'events stats',
    summary: 'Counts events and streams; prints the last position.',
    options: JSON_OPT,
  },
  'events dead-letters': DEAD_LETTERS_COMMAND,
  'projections rebuild': {
    name: 'projections rebuild',
    summary: 'Replays the event store into fresh tables, then swaps them in (progress bar, ETA); the server keeps answering meanwhile.',
    args: '<name>',
    positionals: { min: 0, max: 1 },
    options: { all: { type: 'boolean', description: 'every projection' } },
    details: 'Projections: call-history, billing, crm-context, gateway-ports.',
  },
  'billing rerate': {
    name: 'billing rerate',
    summary: "Re-rates a merchant's charges of a period; prints the difference per call and in total.",
    options: {
      merchant: { type: 'string', placeholder: 'M', description: 'merchant id (required)' },
      from: { type: 'string', placeholder: 'ISO', description: 'period start, ISO-8601 (required)' },
      to: { type: 'string', placeholder: 'ISO', description: 'period end, ISO-8601 (required)' },
      plan: { type: 'string', placeholder: 'FILE', description: 'a rate plan as JSON (default: the plan in force for each call)' },
      'dry-run': { type: 'boolean', description: 'print the differences, change nothing' },
    },
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

/** Groups and their subcommands, for `webdial events --help` and "unknown subcommand". */
export const GROUPS: Record<string, string[]> = {
  events: ['tail', 'read', 'stats', 'dead-letters'],
  projections: ['rebuild'],
  billing: ['rerate'],
};

export const overview = (): string => {
  const lines = Object.values(COMMANDS).map((c: CommandSpec) => [`  webdial ${c.name}${c.args ? ` ${c.args}` : ''}`, c.summary.split('. ')[0].replace(/\.$/, '')] as const);
  const width = Math.max(...lines.map(([l]) => l.length)) + 2;
  return [
    'webdial — event-sourced click-to-call backend',
    '',
    'usage: webdial <command> [options]     (webdial <command> --help for its options)',
    '',
    ...lines.map(([l, d]) => `${l.padEnd(width)}${d}`),
    '',
    'Configuration comes from the environment (see README, "Configuration").',
  ].join('\n');
};
