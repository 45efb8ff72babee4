import { createConnection } from 'node:net';

/**
 * The HAProxy configuration of `webdial stack` (issue 21): one HTTP frontend, round-robin over the
 * instances, each checked on `/readyz`. `haproxyConfig` is pure: the stack writes it to a file and
 * starts Debian's `haproxy` on it; docs/operations.md explains each rule for a hand-written deployment.
 */
export interface HaproxyOptions {
  /** Address the proxy listens on (the one URL clients use). */
  bind: { host: string; port: number };
  /** The webdial instances, in order. */
  servers: Array<{ name: string; host: string; port: number }>;
  /** HAProxy's statistics page (null: none). */
  stats: { host: string; port: number } | null;
  /** HAProxy's runtime API on a Unix socket (null: none): a rolling restart drains an instance through it. */
  adminSocket?: string | null;
  /** Health-check interval, ms (default 1000): a dead instance leaves the rotation after `fall` checks. */
  checkIntervalMs?: number;
}

export const haproxyConfig = (o: HaproxyOptions): string => {
  const inter = o.checkIntervalMs ?? 1000;
  return [
    '# Written by `webdial stack` (src/stack/haproxy.ts); rewritten at every start.',
    'global',
    '  maxconn 4000',
    ...(o.adminSocket ? [`  stats socket ${o.adminSocket} mode 600 level admin`] : []),
    '',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    // An upgraded WebSocket (graphql-ws) is a tunnel: it may stay quiet far longer than a request.
    '  timeout tunnel 1h',
    '  timeout http-keep-alive 10s',
    // The instances see the client's address in X-Forwarded-For (they run with WEBDIAL_TRUST_PROXY=1).
    '  option forwardfor',
    // A request that could not even connect (an instance killed a moment ago, not yet marked down)
    // goes to another instance: it never reached the dead one, so sending it again is safe. A
    // request that did reach it is never replayed (a mutation could run twice): the client gets 502.
    '  retries 3',
    '  option redispatch 1',
    '  retry-on conn-failure',
    '',
    'frontend webdial',
    `  bind ${o.bind.host}:${o.bind.port}`,
    '  default_backend webdial',
    '',
    'backend webdial',
    '  balance roundrobin',
    // /readyz answers 503 while the instance's event store, bus or read database is away.
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    // A killed instance refuses connections: out after 3 quick checks (~1.5 s). A busy one may answer
    // slowly: a check waits 5 s (not `inter`), or the last instance standing under load would be
    // marked down and every request answered 503 "No server is available".
    '  timeout check 5s',
    `  default-server inter ${inter} fastinter ${Math.max(200, Math.floor(inter / 2))} downinter ${inter} fall 3 rise 2`,
    ...o.servers.map((s) => `  server ${s.name} ${s.host}:${s.port} check`),
    ...(o.stats
      ? ['', 'frontend stats', `  bind ${o.stats.host}:${o.stats.port}`, '  stats enable', '  stats uri /', '  stats refresh 2s', '  stats show-legends']
      : []),
    '',
  ].join('\n');
};

/** Sends one command to HAProxy's runtime API (`set server webdial/webdial0 state drain`) and returns its answer. */
export const haproxyCommand = (socketPath: string, command: string, timeoutMs = 3000): Promise<string> =>
  new Promise((resolve, reject) => {
    const s = createConnection(socketPath);
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`HAProxy's runtime API did not answer "${command}" in ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => s.end(`${command}\n`));
    s.on('data', (d) => (out += d.toString()));
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.once('close', () => {
      clearTimeout(timer);
      resolve(out.trim());
    });
  });
