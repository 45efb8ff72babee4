import { parseArgs } from 'node:util';

/** A usage mistake: printed as one line plus the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string, readonly usage: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Option = { type: 'string' | 'boolean'; short?: string; description: string; placeholder?: string };

/** One command of the CLI: its synopsis, what it does, its options and positionals. */
export interface CommandSpec {
  /** e.g. "events tail" */
  name: string;
  summary: string;
  /** Positionals in the synopsis, e.g. "<streamId>". */
  args?: string;
  options?: Record<string, Option>;
  /** How many positionals are accepted. Default: none. */
  positionals?: { min: number; max: number };
  /** Extra paragraph after the options. */
  details?: string;
}

export const synopsis = (c: CommandSpec) =>
  [`webdial ${c.name}`, c.args ?? '', ...Object.entries(c.options ?? {}).map(([k, o]) => (o.type === 'string' ? `[--${k} ${o.placeholder ?? 'VALUE'}]` : `[--${k}]`))].filter(Boolean).join(' ');

/** The text `webdial <command> --help` prints. */
export const helpText = (c: CommandSpec): string => {
  const opts = Object.entries(c.options ?? {}).map(([k, o]) => [`  ${o.short ? `-${o.short}, ` : ''}--${k}${o.type === 'string' ? ` ${o.placeholder ?? 'VALUE'}` : ''}`, o.description] as const);
  const width = Math.max(24, ...opts.map(([l]) => l.length + 2));
  return [
    `usage: ${synopsis(c)}`,
    '',
    c.summary,
    ...(opts.length ? ['', 'options:', ...opts.map(([l, d]) => `${l.padEnd(width)}${d}`)] : []),
    `  ${'-h, --help'.padEnd(width - 2)}show this help`,
    ...(c.details ? ['', c.details] : []),
  ].join('\n');
};

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  help: boolean;
}

/**
 * Parses a command's arguments with node:util's parseArgs (strict: an unknown option, a missing
 * value or too many positionals is a UsageError naming the problem).
 */
export const parseCommand = (c: CommandSpec, argv: string[]): Parsed => {
  const options = Object.fromEntries(Object.entries(c.options ?? {}).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}) }]));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0].replace(/\. To specify a positional argument.*$/, ''), synopsis(c));
  }
  const help = parsed.values.help === true;
  const { min, max } = c.positionals ?? { min: 0, max: 0 };
  if (!help && parsed.positionals.length < min) throw new UsageError(`${c.name} needs ${c.args ?? 'an argument'}`, synopsis(c));
  if (parsed.positionals.length > max) throw new UsageError(`unexpected argument "${parsed.positionals[max]}"`, synopsis(c));
  return { values: parsed.values as Parsed['values'], positionals: parsed.positionals, help };
};

/** An integer option ≥ min, or the default; anything else is a UsageError naming the option. */
export const intOption = (c: CommandSpec, value: string | boolean | undefined, name: string, dflt: number, min = 1): number => {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${String(value)}"`, synopsis(c));
  return n;
};

/** An ISO-8601 instant option, normalised; anything else is a UsageError. */
export const instantOption = (c: CommandSpec, value: string | boolean | undefined, name: string): string => {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`--${name} must be an ISO-8601 instant, got "${String(value)}"`, synopsis(c));
  return new Date(ms).toISOString();
};
