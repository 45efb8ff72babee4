import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';

/** Debian's Chromium, driven by playwright-core (never a downloaded browser). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const chromiumMissing = (): string | null =>
  existsSync(CHROMIUM) ? null : `${CHROMIUM} not found (Debian package chromium; or set CHROMIUM_PATH)`;

/**
 * Headless Chromium as a shopper's browser. `microphone`: 'fake' gives a granted fake microphone
 * (Chromium's beeping test source, or the WAV file `microphoneWav` played in a loop), 'denied' a
 * browser that refuses it as a user would.
 */
export const launchChromium = async (microphone: 'fake' | 'denied' = 'fake', opts: { microphoneWav?: string } = {}): Promise<Browser> => {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      // This machine reaches no network: no background connections.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      ...(microphone === 'fake' ? ['--use-fake-ui-for-media-stream'] : []),
      ...(opts.microphoneWav ? [`--use-file-for-fake-audio-capture=${opts.microphoneWav}`] : []),
      // Real host ICE candidates instead of mDNS names, which LiveKit cannot resolve here.
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
};

/** A page context that records console errors and every RTCPeerConnection the page creates. */
export const shopperPage = async (
  browser: Browser,
  opts: { denyMicrophone?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[]; consoleLines: string[] }> => {
  const context = await browser.newContext();
  if (opts.denyMicrophone) await context.clearPermissions();
  const page = await context.newPage();
  const errors: string[] = [];
  const consoleLines: string[] = [];
  page.on('console', (m) => {
    consoleLines.push(`${m.type()}: ${m.text()}`);
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  await recordPeerConnections(page);
  return { context, page, errors, consoleLines };
};

/** Keeps every RTCPeerConnection the page (or each page of the context) creates, for browserAudioStats. */
export const recordPeerConnections = async (target: BrowserContext | Page): Promise<void> => {
  // Page-side code as strings: this project compiles without the DOM library.
  await target.addInitScript({
    content: `(() => {
      window.__pcs = [];
      const Native = window.RTCPeerConnection;
      window.RTCPeerConnection = class extends Native {
        constructor(config) { super(config); window.__pcs.push(this); }
      };
    })();`,
  });
};

/** Audio RTP as the browser's own RTCPeerConnections report it (inbound-rtp / outbound-rtp, kind audio). */
export interface BrowserAudioStats {
  inboundPackets: number;
  inboundBytes: number;
  inboundEnergy: number;
  outboundPackets: number;
}

export const browserAudioStats = (page: Page): Promise<BrowserAudioStats> =>
  page.evaluate(`(async () => {
    const out = { inboundPackets: 0, inboundBytes: 0, inboundEnergy: 0, outboundPackets: 0 };
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.kind !== 'audio') return;
        if (s.type === 'inbound-rtp') {
          out.inboundPackets += s.packetsReceived || 0;
          out.inboundBytes += s.bytesReceived || 0;
          out.inboundEnergy += s.totalAudioEnergy || 0;
        }
        if (s.type === 'outbound-rtp') out.outboundPackets += s.packetsSent || 0;
      });
    }
    return out;
  })()`);

/**
 * Records `ms` of what the shopper hears: the remote audio the widget plays (the <audio> elements it
 * attached in its shadow root), through Web Audio, as samples at the context's rate. `page`: what a
 * page plays from its own document instead (the agent console's <audio> elements).
 */
export const recordRemoteAudio = (page: Page, ms: number, where: 'widget' | 'page' = 'widget'): Promise<{ sampleRate: number; samples: number[] }> =>
  page.evaluate(`(async () => {
    const host = document.querySelector('[data-webdial]');
    const root = ${where === 'page' ? 'document' : "host && host.shadowRoot"};
    const els = [...(root ? root.querySelectorAll('audio') : [])].filter((e) => e.srcObject);
    if (els.length === 0) return { sampleRate: 48000, samples: [] };
    const ctx = new AudioContext({ sampleRate: 48000 });
    await ctx.resume();
    const sink = ctx.createGain();
    sink.gain.value = 0;
    sink.connect(ctx.destination);
    const rec = ctx.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    rec.onaudioprocess = (e) => chunks.push(Array.from(e.inputBuffer.getChannelData(0)));
    for (const el of els) ctx.createMediaStreamSource(el.srcObject).connect(rec);
    rec.connect(sink);
    await new Promise((r) => setTimeout(r, ${ms}));
    rec.disconnect();
    await ctx.close();
    return { sampleRate: ctx.sampleRate, samples: chunks.flat() };
  })()`);

/** A merchant's shop page served on another origin (e.g. http://127.0.0.2:<port>) that embeds the button. */
export const startShop = async (host: string, widgetTag: (shopOrigin: string) => string): Promise<{ origin: string; close(): Promise<void> }> => {
  let origin = '';
  const server: Server = createServer((req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>A product page</h1><p>${req.url}</p>${widgetTag(origin)}</body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  origin = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
