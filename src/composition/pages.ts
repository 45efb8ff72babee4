import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import type { Config } from './config';
import type { Logger } from './logger';
import type { Clock } from '../ports/clock';
import type { EventStore } from '../ports/event-store';
import type { MediaGateway } from '../ports/media';
import type { CommandHandler } from '../app/command-handler';
import type { CallUseCases } from '../app/calls';
import type { AdminService } from '../app/admin-service';
import { AgentService } from '../app/agent-service';
import { TransferService } from '../app/transfer-service';
import { PhoneTransfers, TRANSFER_LEG_KIND } from '../app/transfer-phone';
import type { Capacity } from '../app/calls/capacity';
import type { SecondLegs } from '../app/calls/second-legs';
import { CallHolders } from '../app/calls/holders';
import { randomIds } from '../app/ids';
import { ExportTickets } from '../app/export-tickets';
import { streamChargesCsv } from '../app/charges-csv';
import { liveKitAgentMedia, noAgentMedia } from '../media/livekit/agent-media';
import type { ReadModels } from '../projections';
import type { PeopleServices } from '../graphql/context';
import { DomainError } from '../domain/shared/errors';
import type { DemoSeed } from './demo';

/** The pages webdial serves (issue 12), at these paths; `npm start` prints them. */
export const PAGES = [
  { path: '/console', title: 'agent console', key: 'CRM or AGENT key' },
  { path: '/dashboard', title: 'merchant dashboard', key: 'MERCHANT key' },
  { path: '/history', title: "analyst's replay", key: 'ANALYST key' },
] as const;

/** Where `npm run build:pages` (Vite, web/vite.pages.config.ts) writes the pages. */
export const PAGES_DIR = join(__dirname, '..', '..', 'web', 'pages');

export interface PagesDeps {
  config: Config;
  store: EventStore;
  handler: CommandHandler;
  calls: CallUseCases;
  admin: AdminService;
  media: MediaGateway;
  /** Issue 25: a transfer to a PSTN center seizes a port and dials it as a second leg of the call, whose reports come back through `secondLegs`. */
  capacity: Capacity;
  secondLegs: SecondLegs;
  readModels: ReadModels;
  clock: Clock;
  tokenSecret: string;
  logger: Logger;
}

/**
 * The people's pages, wired once: the agent console's use cases and the dashboard's export tickets
 * (for the API), and the routes that serve the built pages and stream the CSV export.
 */
export const createPages = (deps: PagesDeps): { services: PeopleServices; mount(app: express.Express, demo: () => DemoSeed | null): void } => {
  const { config } = deps;
  const agentMedia =
    config.media === 'livekit'
      ? liveKitAgentMedia({ publicUrl: config.livekit.publicUrl ?? config.livekit.url!, url: config.livekit.url!, apiKey: config.livekit.apiKey!, apiSecret: config.livekit.apiSecret!, tokenTtlSeconds: 600 })
      : noAgentMedia(config.media);
  const holders = new CallHolders(deps.handler);
  const agents = new AgentService(deps.handler, deps.calls.reader, deps.calls.reports, deps.admin, deps.media, agentMedia, deps.clock, holders);
  const phones = new PhoneTransfers(deps.handler, holders, deps.capacity, deps.media, agentMedia, deps.calls.reports, deps.clock, {
    ringingTimeoutSeconds: config.timeouts.ringingTimeoutSeconds,
    maxCallDurationSeconds: config.timeouts.maxCallDurationSeconds,
  });
  deps.secondLegs.register(TRANSFER_LEG_KIND, phones.legs());
  const services: PeopleServices = {
    agents,
    transfers: new TransferService(deps.handler, agents, holders, deps.calls.reader, agentMedia, randomIds, deps.clock, phones),
    exports: new ExportTickets(Buffer.from(`export:${deps.tokenSecret}`), 60_000, { useOnce: (nonce, expiresAt, now) => deps.readModels.useOnce(nonce, expiresAt, now) }),
    rerateDryRun: (request) => deps.readModels.rerate({ ...request, dryRun: true }),
  };
  return { services, mount: (app, demo) => mountPages(app, deps, services, demo) };
};

/**
 * The pages load only their own bundle and talk only to this origin (HTTP and WebSocket) and, in
 * LiveKit mode, to the media server: its WebSocket, and its HTTP origin, which livekit-client asks
 * why a WebSocket was refused (`/rtc/validate`).
 */
const pageHeaders = (config: Config) => {
  const livekit = config.media === 'livekit' ? (config.livekit.publicUrl ?? config.livekit.url) : null;
  const media = livekit ? ` ${new URL(livekit.replace(/^ws/, 'http')).origin}` : '';
  return {
    'content-security-policy': `default-src 'self'; connect-src 'self' ws: wss:${media}; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  };
};

const mountPages = (app: express.Express, deps: PagesDeps, services: PeopleServices, demo: () => DemoSeed | null) => {
  const built = existsSync(join(PAGES_DIR, 'console.html'));
  const headers = pageHeaders(deps.config);
  for (const page of PAGES)
    app.get(page.path, (_req, res) => {
      if (!built) {
        res.status(503).type('text/plain').send('The pages are not built: run `npm run build:pages` (or `npm run build`).');
        return;
      }
      res.set(headers).sendFile(join(PAGES_DIR, `${page.path.slice(1)}.html`));
    });
  // Hashed file names: cacheable for good.
  app.use('/pages/assets', express.static(join(PAGES_DIR, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false }));

  // The demo's browser desk: a shop page whose call button rings in the agent console (PC-to-PC).
  app.get('/demo/browser', (_req, res) => {
    const seed = demo();
    if (!seed?.browser) {
      res.status(404).type('text/plain').send('demo data is off (WEBDIAL_DEMO=0)');
      return;
    }
    res.type('html').send(browserDemoPage(seed.merchantId, seed.browser.linkId));
  });

  app.get('/exports/charges.csv', async (req, res) => {
    const ticket = typeof req.query.ticket === 'string' ? req.query.ticket : '';
    let claims;
    try {
      claims = await services.exports.redeem(ticket, deps.clock.now());
    } catch (e) {
      res.status(401).type('text/plain').send(e instanceof DomainError ? e.message : 'invalid export ticket');
      return;
    }
    const { merchantId, from, to } = claims;
    res.status(200).set({
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="charges-${merchantId}-${from.slice(0, 10)}-${to.slice(0, 10)}.csv"`,
      'cache-control': 'no-store',
    });
    let gone = false;
    res.on('close', () => (gone = !res.writableFinished));
    // Backpressure: wait for the socket to drain (or close) before reading the next page.
    const write = (chunk: string) =>
      new Promise<void>((resolve) => {
        if (res.write(chunk)) return resolve();
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    try {
      const rows = await streamChargesCsv(
        (after) => deps.readModels.queries.chargeRecords({ merchantId, from, to }, 500, after),
        write,
        () => gone,
      );
      deps.logger.info({ merchantId, from, to, rows }, 'charges CSV exported');
      res.end();
    } catch (e) {
      // The header is sent: end the body short and say so in the log (the client sees a truncated file).
      deps.logger.error({ err: e, merchantId }, 'charges CSV export failed');
      res.destroy(e as Error);
    }
  });
};

const browserDemoPage = (merchantId: string, linkId: string) => `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>webdial demo shop: talk in the browser</title><link rel="icon" href="data:,"></head>
<body style="font-family:sans-serif;max-width:640px;margin:40px auto">
  <h1>Demo Shop</h1>
  <p>This call button calls the <strong>Demo Browser Desk</strong>, a browser (PC-to-PC) call center: nothing is
  dialled; the call rings in the <a href="/console">agent console</a> (sign in there with the demo's AGENT or CRM
  key) and the agent answers in the browser. In simulator mode there is no audio.</p>
  <script src="/widget.js" data-merchant="${merchantId}" data-link="${linkId}" data-customer="demo-visitor" data-label="Talk to us in the browser"></script>
</body>
</html>
`;
