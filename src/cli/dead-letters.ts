import type { DeadLetter, ReadModels } from '../projections';
import { intOption, synopsis, UsageError, type CommandSpec, type Parsed } from './args';

/**
 * `webdial events dead-letters …` for operators, on the read database:
 *   dead-letters [--first N] [--json]   list them, newest first (a healthy system has none)
 *   dead-letters replay <id>            apply one again through its projection, after the fix
 * Terminal output is aligned columns; --json prints one JSON object per line.
 */
export const DEAD_LETTERS_COMMAND = {
  name: 'events dead-letters',
  summary: 'Lists the events the projections set aside and the bus messages no one could decode, newest first (a healthy system has none); `replay <id>` applies one again after the fix.',
  args: '[replay <id>]',
  positionals: { min: 0, max: 2 },
  options: {
    first: { type: 'string', placeholder: 'N', description: 'at most N of them (1-500, default 100)' },
    json: { type: 'boolean', description: 'one JSON object per line instead of aligned columns' },
  },
  details: 'A replay is applied once (a second one is refused); a view that still refuses the event changes nothing. docs/operations.md, "Dead letters".',
} satisfies CommandSpec;

export interface DeadLettersRequest {
  /** The dead letter to replay; null: list them. */
  replay: number | null;
  first: number;
  json: boolean;
}

/** The request from `webdial events dead-letters`' parsed arguments; a UsageError when they make none. */
export const deadLettersRequest = (parsed: Parsed): DeadLettersRequest => {
  const spec: CommandSpec = DEAD_LETTERS_COMMAND;
  const [verb, id] = parsed.positionals;
  if (verb !== undefined && verb !== 'replay') throw new UsageError(`unknown argument "${verb}" (list them, or: replay <id>)`, synopsis(spec));
  if (verb === 'replay' && (id === undefined || !/^\d{1,15}$/.test(id))) throw new UsageError('replay needs the id of a dead letter (the ID column)', synopsis(spec));
  const first = intOption(spec, parsed.values.first, 'first', 100);
  if (first > 500) throw new UsageError(`--first must be at most 500, got ${first}`, synopsis(spec));
  return { replay: verb === 'replay' ? Number(id) : null, first, json: parsed.values.json === true };
};

const COLUMNS: Array<[title: string, width: number, value: (d: DeadLetter) => string]> = [
  ['ID', 6, (d) => String(d.id)],
  ['AT', 24, (d) => d.at],
  ['CONSUMER', 16, (d) => d.consumer],
  ['EVENT', 44, (d) => (d.type ? `${d.type} ${d.streamId ?? ''}@${d.streamVersion ?? '?'}` : `undecodable ${d.origin ?? ''}`)],
  ['REPLAYED', 24, (d) => d.replayedAt ?? '-'],
  ['ERROR', 0, (d) => d.error],
];

const line = (cells: string[]) => cells.map((c, i) => (COLUMNS[i][1] ? c.padEnd(COLUMNS[i][1]) : c)).join('  ');

/** Runs the command; resolves to the exit code (0 ok, 1 refused or failed). */
export async function deadLettersCommand(request: DeadLettersRequest, reads: Pick<ReadModels, 'deadLetters' | 'replayDeadLetter'>, out: NodeJS.WritableStream): Promise<number> {
  const write = (s: string) => out.write(s + '\n');
  try {
    if (request.replay !== null) {
      const d = await reads.replayDeadLetter(request.replay);
      if (request.json) write(JSON.stringify(d));
      else write(`dead letter ${d.id} (${d.type ?? 'message'} ${d.streamId ?? d.origin ?? ''}) replayed into ${d.consumer}`);
      return 0;
    }
    const letters = await reads.deadLetters({ first: request.first });
    if (request.json) letters.forEach((d) => write(JSON.stringify(d)));
    else if (letters.length === 0) write('no dead letters: every event was applied');
    else {
      write(line(COLUMNS.map(([t]) => t)));
      for (const d of letters) write(line(COLUMNS.map(([, , v]) => v(d))));
      const waiting = letters.filter((d) => !d.replayedAt).length;
      write(`${letters.length} dead letter(s), ${waiting} not replayed; replay one with: webdial events dead-letters replay <id>`);
    }
    return 0;
  } catch (e) {
    // Domain refusals carry a code (NOT_FOUND, CONFLICT: still not appliable or replayed, BAD_USER_INPUT).
    const code = (e as { code?: string }).code;
    write(`webdial events dead-letters: ${code ? `${code}: ` : ''}${(e as Error).message}`);
    return 1;
  }
}
