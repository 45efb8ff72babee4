import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { intOption, UsageError, synopsis, type Parsed } from './args';
import { COMMANDS } from './commands';
import { defaultStackOptions, startStack } from '../stack/stack';

const spec = COMMANDS.stack;

interface StackState {
  pid: number | null;
  restarting?: boolean;
  restartedAt?: string;
  url?: string;
  stats?: string;
  instances?: Array<{ name: string; url: string; log: string }>;
}

const readState = (dir: string): StackState | null => {
  const file = join(dir, 'stack.json');
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StackState;
  } catch {
    return null;
  }
};

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** `webdial stack [start|stop|status]`: see COMMANDS.stack. */
export const stackCommand = async (parsed: Parsed): Promise<number> => {
  const action = parsed.positionals[0] ?? 'start';
  const dir = typeof parsed.values.dir === 'string' ? parsed.values.dir : join('data', 'stack');
  if (action === 'stop') return stopStack(dir);
  if (action === 'status') return stackStatus(dir);
  if (action === 'restart') return restartStack(dir);
  if (action !== 'start') throw new UsageError(`unknown stack action "${action}" (start, stop, restart or status)`, synopsis(spec));

  const running = readState(dir);
  if (running?.pid && alive(running.pid)) {
    console.error(`webdial: a stack already runs from ${dir} (pid ${running.pid}, ${running.url}); webdial stack stop --dir ${dir} stops it`);
    return 1;
  }
  const options = defaultStackOptions({
    instances: intOption(spec, parsed.values.instances, 'instances', 2),
    port: intOption(spec, parsed.values.port, 'port', 4000),
    name: typeof parsed.values.name === 'string' ? parsed.values.name : 'webdial_stack',
    dir,
    livekit: parsed.values.livekit === true,
    keepServices: parsed.values['keep-services'] === true,
  });
  if (options.port + 99 > 65535) throw new UsageError('--port must leave room for PORT+99 (the stats page)', synopsis(spec));
  const t0 = Date.now();
  let stack: Awaited<ReturnType<typeof startStack>>;
  try {
    stack = await startStack(options);
  } catch (e) {
    console.error(`webdial: the stack did not start: ${(e as Error).message}`);
    return 1;
  }
  console.log(
    [
      '',
      `webdial stack is up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${options.instances} instance(s) behind HAProxy.`,
      '',
      `  Use this URL: ${stack.url}   (WebSocket: ${stack.url.replace(/^http/, 'ws')})`,
      `  ADMIN key:    in ${join(dir, 'admin.key')} (or WEBDIAL_ADMIN_KEY)`,
      `  HAProxy:      ${stack.statsUrl} (statistics: which instances are up)`,
      ...stack.instances.map((x) => `  ${x.name}:     ${x.base} (pid ${x.pid}, log ${x.logFile})`),
      '',
      'Ctrl-C (or `webdial stack stop`) stops it; `webdial stack restart` (or SIGHUP) restarts the instances one at a time.',
    ].join('\n'),
  );
  // SIGHUP (`webdial stack restart`): a rolling restart, one at a time; stack.json says when it is done.
  let rolling: Promise<void> | null = null;
  const onHup = () => {
    if (rolling) return console.log('SIGHUP: a rolling restart is already running');
    console.log('\nSIGHUP: rolling restart');
    writeState(dir, { restarting: true });
    rolling = stack
      .rollingRestart()
      .then(() => console.log('rolling restart done'))
      .catch((e: unknown) => console.error(`webdial: the rolling restart failed: ${(e as Error).message}`))
      .finally(() => {
        rolling = null;
        writeState(dir, { restarting: false, restartedAt: new Date().toISOString() });
      });
  };
  process.on('SIGHUP', onHup);
  // Every signal stays handled until the stop is over: a second SIGTERM or Ctrl-C while stopping
  // (a supervisor's timeout, then `webdial stack stop`) must not end this process by default and leave
  // the services it started (the Kafka broker, LiveKit) running. It is told to wait instead.
  let stopping: Promise<void> | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.log(`\n${signal}: the stack is already stopping; waiting for it (the services it started are stopped too)`);
      return;
    }
    console.log(`\n${signal}: stopping the stack…`);
    stopping = stack.stop().catch((e: unknown) => console.error(`webdial: stopping the stack: ${(e as Error).message}`));
  };
  let stopped: () => void = () => undefined;
  const handler = (signal: NodeJS.Signals) => {
    onSignal(signal);
    void stopping?.finally(stopped);
  };
  await new Promise<void>((resolveStop) => {
    stopped = resolveStop;
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
  process.off('SIGINT', handler).off('SIGTERM', handler).off('SIGHUP', onHup);
  console.log('stack stopped');
  return 0;
};

/** Merges fields into stack.json (the running stack's state, read by stop, restart and status). */
const writeState = (dir: string, fields: Partial<StackState>): void => {
  const state = readState(dir);
  if (state) writeFileSync(join(dir, 'stack.json'), JSON.stringify({ ...state, ...fields }, null, 2));
};

const restartStack = async (dir: string): Promise<number> => {
  const state = readState(dir);
  if (!state?.pid || !alive(state.pid)) {
    console.log(`no stack runs from ${dir}`);
    return 1;
  }
  const before = state.restartedAt;
  console.log(`rolling restart of the stack (pid ${state.pid}): one instance at a time, each back behind HAProxy once its /readyz answers 200 (progress in the stack's output)…`);
  process.kill(state.pid, 'SIGHUP');
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = readState(dir);
    if (!now?.pid || !alive(now.pid)) {
      console.error('webdial: the stack stopped during the restart');
      return 1;
    }
    if (now.restartedAt && now.restartedAt !== before && !now.restarting) break;
    if (Date.now() > deadline) {
      console.error('webdial: the rolling restart did not finish in 15 minutes');
      return 1;
    }
  }
  console.log('rolling restart done');
  return 0;
};

const stopStack = async (dir: string): Promise<number> => {
  const state = readState(dir);
  if (!state?.pid || !alive(state.pid)) {
    console.log(`no stack runs from ${dir}`);
    return 0;
  }
  console.log(`stopping the stack (pid ${state.pid})…`);
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + 90_000;
  while (alive(state.pid)) {
    if (Date.now() > deadline) {
      console.error(`webdial: the stack (pid ${state.pid}) is still running after 90 s`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log('stack stopped');
  return 0;
};

const stackStatus = async (dir: string): Promise<number> => {
  const state = readState(dir);
  if (!state?.pid || !alive(state.pid)) {
    console.log(`no stack runs from ${dir}`);
    return 3;
  }
  console.log(`stack (pid ${state.pid}): ${state.url}, HAProxy statistics ${state.stats}`);
  let ok = true;
  for (const x of state.instances ?? []) {
    const readyz = x.url.replace(/\/graphql$/, '/readyz');
    const answer = await fetch(readyz, { signal: AbortSignal.timeout(3000) })
      .then(async (r) => `${r.status} ${await r.text()}`)
      .catch((e: unknown) => `no answer (${(e as Error).message})`);
    if (!answer.startsWith('200')) ok = false;
    console.log(`  ${x.name.padEnd(10)} ${readyz}  ${answer}`);
  }
  return ok ? 0 : 1;
};
