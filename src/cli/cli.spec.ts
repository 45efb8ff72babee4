import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { callWord, main } from './main';
import { COMMANDS, GROUPS } from './commands';
import { parseCommand, UsageError } from './args';

/** Runs `webdial …argv` in-process, capturing what it prints. */
const run = async (argv: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  try {
    return { code: await main(argv), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
};

describe('webdial CLI (node:util parseArgs)', () => {
  for (const name of Object.keys(COMMANDS))
    for (const flag of ['--help', '-h'])
      it(`webdial ${name} ${flag} prints its usage and options, exit 0`, async () => {
        const r = await run([...name.split(' '), flag]);
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, new RegExp(`^usage: webdial ${name}`));
        assert.match(r.out, /-h, --help\s+show this help/);
      });

  for (const group of Object.keys(GROUPS))
    it(`webdial ${group} --help lists its subcommands; without one it is a usage error`, async () => {
      const help = await run([group, '--help']);
      assert.equal(help.code, 0);
      for (const sub of GROUPS[group]!) assert.match(help.out, new RegExp(`webdial ${group} ${sub}`));
      assert.equal((await run([group])).code, 2);
      assert.equal((await run([group, 'nope'])).code, 2);
    });

  it('the start banner names the media mode: "simulated" only with the simulator (issue 22)', () => {
    assert.match(callWord('simulator'), /simulated/);
    assert.match(callWord('livekit'), /LiveKit SIP/);
    assert.doesNotMatch(callWord('livekit'), /simulat/);
    assert.doesNotMatch(callWord('external'), /simulat/);
  });

  it('webdial --help lists every command; an unknown one exits 1', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    for (const name of Object.keys(COMMANDS)) assert.ok(r.out.includes(`webdial ${name}`), name);
    const bad = await run(['frobnicate']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /unknown command "frobnicate"/);
  });

  it('usage mistakes exit 2 with one line naming the problem and the synopsis', async () => {
    const unknown = await run(['demo-calls', '--bogus']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /^webdial: Unknown option '--bogus'\nusage: webdial demo-calls \[--count N\]/);
    const notInt = await run(['demo-calls', '--count', 'ten']);
    assert.equal(notInt.code, 2);
    assert.match(notInt.err, /--count must be an integer/);
    assert.equal((await run(['schema', 'extra'])).code, 2);
    assert.equal((await run(['events', 'read'])).code, 2);
  });

  it('parseCommand: values, short flags, positionals', () => {
    const p = parseCommand(COMMANDS['demo-calls'], ['-n', '5', '--url', 'http://x/graphql']);
    assert.deepEqual([p.values.count, p.values.url, p.help], ['5', 'http://x/graphql', false]);
    assert.deepEqual(parseCommand(COMMANDS['events read'], ['call-1', '--json']).positionals, ['call-1']);
    assert.throws(() => parseCommand(COMMANDS['events read'], ['a', 'b']), UsageError);
    assert.throws(() => parseCommand(COMMANDS['demo-calls'], ['--count']), /argument missing|--count/);
  });
});
