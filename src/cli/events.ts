import type { EventStore, StoredEvent } from '../ports/event-store';
import { helpText, parseCommand, UsageError, type Parsed } from './args';
import { COMMANDS } from './commands';

/**
 * `webdial events …` for operators:
 *   tail [--from POS] [--json]   follow the global order (catch-up, then live) until SIGINT
 *   read <streamId> [--json]     one stream in version order
 *   stats [--json]               events, streams, last position
 * Terminal output is aligned columns; --json prints one JSON object per line (the stored envelope).
 */

export interface EventsCommandOptions {
  /** Ends `tail`; default: the first SIGINT (Ctrl-C). */
  signal?: AbortSignal;
}

/** Runs the command; resolves to the process exit code (0 ok, 1 store error, 2 usage error). */
export async function eventsCommand(
  argv: string[],
  store: EventStore,
  out: NodeJS.WritableStream,
  options: EventsCommandOptions = {},
): Promise<number> {
  const [sub, ...rest] = argv;
  const write = (line: string) => out.write(line + '\n');
  const spec = sub === 'tail' || sub === 'read' || sub === 'stats' ? COMMANDS[`events ${sub}`] : null;
  if (!spec) return usage(out, sub ? `unknown events command: ${sub}` : undefined);
  let parsed: Parsed;
  try {
    parsed = parseCommand(spec, rest);
  } catch (e) {
    if (e instanceof UsageError) return usage(out, e.message);
    throw e;
  }
  if (parsed.help) {
    write(helpText(spec));
    return 0;
  }
  const json = parsed.values.json === true;
  try {
    switch (sub) {
      case 'tail': {
        const from = parsed.values.from;
        if (from === '') return usage(out, '--from needs a position');
        return await tail(store, typeof from === 'string' ? from : null, json, write, options.signal);
      }
      case 'read': {
        const streamId = parsed.positionals[0];
        const events = await store.readStream(streamId);
        if (json) events.forEach((e) => write(JSON.stringify(e)));
        else if (events.length === 0) write(`stream ${streamId} has no events`);
        else printTable(events, write);
        return 0;
      }
      default: {
        const s = await store.stats();
        if (json) write(JSON.stringify({ store: store.name, ...s }));
        else {
          write(`store          ${store.name}`);
          write(`events         ${s.events}`);
          write(`streams        ${s.streams}`);
          write(`last position  ${s.lastPosition ?? '-'}`);
        }
        return 0;
      }
    }
  } catch (e) {
    if (e instanceof RangeError) return usage(out, e.message);
    write(`webdial events: ${(e as Error).message}`);
    return 1;
  }
}

const usage = (out: NodeJS.WritableStream, problem?: string): number => {
  if (problem) out.write(`webdial events: ${problem}\n`);
  out.write(`${['tail', 'read', 'stats'].map((c) => helpText(COMMANDS[`events ${c}` as 'events tail']).split('\n')[0]).join('\n')}\n`);
  return 2;
};

const tail = async (
  store: EventStore,
  after: string | null,
  json: boolean,
  write: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<number> => {
  // Validate the position before subscribing, so a typo is a usage error and not a dead tail.
  await store.readAll({ after, limit: 1 });
  const ownSignal = new AbortController();
  const onSigint = () => ownSignal.abort();
  if (!signal) process.once('SIGINT', onSigint);
  const stopSignal = signal ?? ownSignal.signal;
  // Live rows cannot be measured in advance: fixed widths, the position's from the adapter's format.
  const widths = widthsFor(store.name === 'sqlite' ? 20 : 41);
  if (!json) write(header(widths));
  // The store away (a restart): the tail waits and goes on from where it was; it says so on stderr.
  const onError = (e: unknown, attempt: number) => {
    if (attempt === 1 || attempt % 20 === 0) process.stderr.write(`webdial events tail: ${(e as Error).message}; retrying (attempt ${attempt})\n`);
  };
  const sub = store.subscribe({ after, onError }, async (e) => write(json ? JSON.stringify(e) : row(e, widths)));
  const stopped = new Promise<void>((resolve) => {
    if (stopSignal.aborted) resolve();
    stopSignal.addEventListener('abort', () => resolve(), { once: true });
  });
  try {
    await Promise.race([stopped, sub.done]);
  } finally {
    await sub.stop();
    process.removeListener('SIGINT', onSigint);
  }
  await sub.done;
  return 0;
};

interface Widths {
  position: number;
  stream: number;
  type: number;
}

const TIME_WIDTH = 24;
const DATA_WIDTH = 60;

const widthsFor = (positionWidth: number): Widths => ({ position: positionWidth, stream: 44, type: 24 });

const header = (w: Widths) =>
  ['POSITION'.padEnd(w.position), 'TIME'.padEnd(TIME_WIDTH), 'STREAM@VERSION'.padEnd(w.stream), 'TYPE'.padEnd(w.type), 'DATA'].join('  ');

/** One aligned line: position, domain time, stream@version, type, the data shortened. */
const row = (e: StoredEvent, w: Widths) =>
  [
    e.position.padEnd(w.position),
    e.occurredAt.padEnd(TIME_WIDTH),
    `${e.streamId}@${e.streamVersion}`.padEnd(w.stream),
    e.type.padEnd(w.type),
    shorten(JSON.stringify(e.data) ?? 'null', DATA_WIDTH),
  ].join('  ');

const shorten = (s: string, max: number) => (s.length <= max ? s : s.slice(0, max - 1) + '…');

const printTable = (events: StoredEvent[], write: (line: string) => void) => {
  const w: Widths = {
    position: Math.max(8, ...events.map((e) => e.position.length)),
    stream: Math.max(14, ...events.map((e) => `${e.streamId}@${e.streamVersion}`.length)),
    type: Math.max(4, ...events.map((e) => e.type.length)),
  };
  write(header(w));
  events.forEach((e) => write(row(e, w)));
};
