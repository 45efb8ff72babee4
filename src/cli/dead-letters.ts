import type { DeadLetter, ReadModels } from '../projections';

/**
 * `webdial events dead-letters …` for operators, on the read database:
 *   dead-letters [--first N] [--json]   list them, newest first (a healthy system has none)
 *   dead-letters replay <id>            apply one again through its projection, after the fix
 * Terminal output is aligned columns; --json prints one JSON object per line.
 */

const USAGE = `usage: webdial events dead-letters [--first N] [--json]
       webdial events dead-letters replay <id>`;

const COLUMNS: Array<[title: string, width: number, value: (d: DeadLetter) => string]> = [
  ['ID', 6, (d) => String(d.id)],
  ['AT', 24, (d) => d.at],
  ['CONSUMER', 16, (d) => d.consumer],
  ['EVENT', 44, (d) => (d.type ? `${d.type} ${d.streamId ?? ''}@${d.streamVersion ?? '?'}` : `undecodable ${d.origin ?? ''}`)],
  ['REPLAYED', 24, (d) => d.replayedAt ?? '-'],
  ['ERROR', 0, (d) => d.error],
];

const line = (cells: string[]) => cells.map((c, i) => (COLUMNS[i]![1] ? c.padEnd(COLUMNS[i]![1]) : c)).join('  ');

/** Runs the command; resolves to the exit code (0 ok, 1 refused or failed, 2 usage error). */
export async function deadLettersCommand(argv: string[], reads: Pick<ReadModels, 'deadLetters' | 'replayDeadLetter'>, out: NodeJS.WritableStream): Promise<number> {
  const write = (s: string) => out.write(s + '\n');
  const usage = (problem: string) => {
    write(`webdial events dead-letters: ${problem}`);
    write(USAGE);
    return 2;
  };
  const json = argv.includes('--json');
  try {
    if (argv[0] === 'replay') {
      const id = argv[1];
      if (!id || !/^\d{1,15}$/.test(id)) return usage('replay needs the id of a dead letter (the ID column)');
      const d = await reads.replayDeadLetter(Number(id));
      if (json) write(JSON.stringify(d));
      else write(`dead letter ${d.id} (${d.type ?? 'message'} ${d.streamId ?? d.origin ?? ''}) replayed into ${d.consumer}`);
      return 0;
    }
    const i = argv.indexOf('--first');
    const first = i >= 0 ? Number(argv[i + 1]) : 100;
    if (i >= 0 && !(Number.isInteger(first) && first >= 1 && first <= 500)) return usage('--first takes a number from 1 to 500');
    const unknown = argv.filter((a, k) => a !== '--json' && a !== '--first' && !(i >= 0 && k === i + 1));
    if (unknown.length) return usage(`unknown argument ${unknown[0]}`);
    const letters = await reads.deadLetters({ first });
    if (json) letters.forEach((d) => write(JSON.stringify(d)));
    else if (letters.length === 0) write('no dead letters: every event was applied');
    else {
      write(line(COLUMNS.map(([t]) => t)));
      for (const d of letters) write(line(COLUMNS.map(([, , v]) => v(d))));
      const waiting = letters.filter((d) => !d.replayedAt).length;
      write(`${letters.length} dead letter(s), ${waiting} not replayed; replay one with: webdial events dead-letters replay <id>`);
    }
    return 0;
  } catch (e) {
    // Domain refusals carry a code (NOT_FOUND, CONFLICT: still not appliable, BAD_USER_INPUT).
    const code = (e as { code?: string }).code;
    write(`webdial events dead-letters: ${code ? `${code}: ` : ''}${(e as Error).message}`);
    return 1;
  }
}
