import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { SipClient } from 'livekit-server-sdk';
import { chromiumMissing } from './browser';
import { sippAvailable } from './sipp';

/** A running LiveKit + SIP started by `npm run livekit:start` (scripts/livekit/livekit.sh), as its env file describes it. */
export interface RealLiveKit {
  url: string;
  wsUrl: string;
  apiKey: string;
  apiSecret: string;
  sipPort: number;
  /** Where livekit-server posts its webhooks: the webdial under test must listen there. */
  webhookUrl: string;
  webhookPort: number;
  serverVersion: string;
  sipVersion: string;
  /** livekit-sip's log (scripts/livekit/livekit.sh writes it next to the env file). */
  sipLogFile: string;
  /** livekit-sip's Prometheus metrics (GET), or null from a LiveKit started before they were enabled. */
  sipMetricsUrl: string | null;
}

const envFile = () =>
  join(process.env.LIVEKIT_RUN_DIR ?? join(process.env.LIVEKIT_CACHE_DIR ?? join(homedir(), '.cache', 'webdial', 'livekit'), 'run'), 'livekit.env');

/** The running LiveKit, or the reason there is none. */
export const realLiveKit = async (): Promise<RealLiveKit | string> => {
  const file = envFile();
  if (!existsSync(file)) return `no ${file}: start LiveKit with npm run livekit:start`;
  const env = Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Record<string, string>;
  const lk: RealLiveKit = {
    url: env.LIVEKIT_URL!,
    wsUrl: env.LIVEKIT_WS_URL!,
    apiKey: env.LIVEKIT_API_KEY!,
    apiSecret: env.LIVEKIT_API_SECRET!,
    sipPort: Number(env.LIVEKIT_SIP_PORT),
    webhookUrl: env.LIVEKIT_WEBHOOK_URL!,
    webhookPort: Number(new URL(env.LIVEKIT_WEBHOOK_URL!).port),
    serverVersion: env.LIVEKIT_SERVER_VERSION!,
    sipVersion: env.LIVEKIT_SIP_VERSION!,
    sipLogFile: join(dirname(file), 'sip.log'),
    sipMetricsUrl: env.LIVEKIT_SIP_METRICS_URL ?? null,
  };
  try {
    const { SipClient } = await import('livekit-server-sdk');
    await new SipClient(lk.url, lk.apiKey, lk.apiSecret).listSipOutboundTrunk();
  } catch (e) {
    return `LiveKit at ${lk.url} (from ${file}) does not answer its SIP API: ${(e as Error).message}`;
  }
  return lk;
};

/**
 * The environment of a webdial in LiveKit mode against `lk`: on the port LiveKit posts its webhooks to
 * (scripts/livekit/livekit.sh, LIVEKIT_WEBHOOK_URL), with info logs (the tests read the webhook lines).
 */
export const liveKitModeEnv = (lk: RealLiveKit): Record<string, string> => ({
  PORT: String(lk.webhookPort),
  LOG_LEVEL: 'info',
  WEBDIAL_MEDIA: 'livekit',
  LIVEKIT_URL: lk.url,
  LIVEKIT_PUBLIC_URL: lk.wsUrl,
  LIVEKIT_API_KEY: lk.apiKey,
  LIVEKIT_API_SECRET: lk.apiSecret,
});

/**
 * A webdial in LiveKit mode whose outbound trunk (created by webdial) points at sipp, the call center,
 * on a random even port; `cleanUp` deletes the trunks created for that port.
 */
export const sippTrunkSetup = (lk: RealLiveKit, ani: string, ringingTimeoutSeconds: number) => {
  const sippPort = 5500 + 2 * Math.floor(Math.random() * 200);
  const env: Record<string, string> = {
    ...liveKitModeEnv(lk),
    LIVEKIT_SIP_TRUNK_ADDRESS: `127.0.0.1:${sippPort}`,
    LIVEKIT_SIP_TRUNK_NUMBERS: ani,
    WEBDIAL_RINGING_TIMEOUT: String(ringingTimeoutSeconds),
    WEBDIAL_ANI_QUARANTINE: '0',
  };
  const cleanUp = async () => {
    const sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
    for (const t of await sip.listSipOutboundTrunk().catch(() => []))
      if (t.address === `127.0.0.1:${sippPort}`) await sip.deleteSipTrunk(t.sipTrunkId).catch(() => undefined);
  };
  return { sippPort, env, cleanUp };
};

/** Waits (a minute at most) for another run's webdial to give up LiveKit's webhook port: one LiveKit-mode server at a time. */
export const webhookPortFree = async (lk: RealLiveKit): Promise<void> => {
  const free = () =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(lk.webhookPort, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  const deadline = Date.now() + 60_000;
  while (!(await free())) {
    if (Date.now() > deadline) throw new Error(`port ${lk.webhookPort} (where LiveKit posts its webhooks) is not free: another test run's webdial holds it`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

/** A "LiveKit webhook" log line of the server (src/media/livekit/webhooks.ts): what LiveKit reported and what webdial made of it. */
export interface WebhookLine {
  event: string;
  room?: string;
  identity?: string;
  disconnectReason?: string;
  outcome: string;
}

/** The server's "LiveKit webhook" log lines about one room. */
export const webhookLines = (output: string, room: string): WebhookLine[] =>
  output
    .split('\n')
    .filter((l) => l.includes('"LiveKit webhook"') && l.includes(`"room":"${room}"`))
    .map((l) => JSON.parse(l) as WebhookLine);

/**
 * What a real-LiveKit test needs first: the running LiveKit, with Chromium and sipp when asked, and
 * (unless `webhookPort: false`) LiveKit's webhook port free for this test's server (no other
 * LiveKit-mode webdial); or why one is missing (the test skips with it, or fails under CI).
 */
export const liveKitFor = async (needs: { chromium?: boolean; sipp?: boolean; webhookPort?: boolean } = {}): Promise<RealLiveKit | string> => {
  const found = await realLiveKit();
  const missing = typeof found === 'string' ? found : ((needs.chromium ? chromiumMissing() : null) ?? (needs.sipp ? sippAvailable() : null));
  if (missing) return missing;
  const lk = found as RealLiveKit;
  if (needs.webhookPort !== false) await webhookPortFree(lk);
  return lk;
};
