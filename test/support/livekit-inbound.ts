import { SipClient } from 'livekit-server-sdk';
import type { InboundCallSink } from '../../src/ports/media';
import { ensureInboundRouting, removeInboundRouting } from '../../src/media/livekit/inbound-routing';
import { createLiveKitMedia, type LiveKitMedia, type MediaLogger } from '../../src/media/livekit/livekit-media';
import { createLiveKitWebhookHandler } from '../../src/media/livekit/webhooks';
import { disposeRtcNode } from '../../src/media/livekit/rtc-room-participant';
import type { RealLiveKit } from './livekit-real';
import { listenForLiveKitWebhooks } from './livekit-webhooks';
import { recordingProgressSink } from './progress-sink';
import { callDid, type UacCall } from './sip-uac';
import { startRtpEndpoint, type RtpEndpoint, type RtpEndpointOptions } from './rtp-endpoint';
import { freeUdpPort } from './sipp';

/** A webhook log line as the handler writes it (event, room and what it made of it). */
export type HookLine = { event?: string; room?: string; outcome?: string };

export interface InboundHarness {
  media: LiveKitMedia;
  /** A phone at `carrier` calls the DID from `caller`; its media endpoint starts with `rtp`. */
  phone(caller: string, rtp: RtpEndpointOptions): Promise<{ call: UacCall; rtp: RtpEndpoint }>;
  close(): Promise<void>;
}

/**
 * Inbound calls on the real LiveKit server + SIP, as webdial wires them: an inbound trunk and dispatch
 * rule for `did` (from `carrier` only), the LiveKit adapter, and the webhook handler (in-process, on
 * the port LiveKit posts to: one such test at a time) reporting arrivals to `inbound`. Progress
 * reports go to `progress`, the handler's log lines to `hookLines`; errors are printed.
 */
export const startInboundHarness = async (
  lk: RealLiveKit,
  opts: { name: string; did: string; carrier: string; inbound: InboundCallSink; progress: unknown[][]; hookLines: HookLine[] },
): Promise<InboundHarness> => {
  const sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
  // LiveKit keeps trunks in Redis, across its restarts: a run that died before its close() left its
  // trunk listing this DID, and LiveKit refuses a second trunk with the same number. The test's DIDs
  // are its own: whatever trunk still lists one is a leftover.
  await removeTrunksOf(sip, opts.did);
  await ensureInboundRouting(sip, { name: opts.name, numbers: [opts.did], allowedAddresses: [`${opts.carrier}/32`] });
  try {
    return await harnessOn(sip, lk, opts);
  } catch (e) {
    // Nothing left behind when the harness cannot start (the webhook port taken, …).
    await removeInboundRouting(sip, opts.name).catch(() => undefined);
    throw e;
  }
};

/** Removes every inbound trunk that lists `did`, and the dispatch rules that name only such trunks. */
export const removeTrunksOf = async (sip: SipClient, did: string): Promise<void> => {
  const stale = (await sip.listSipInboundTrunk()).filter((t) => t.numbers.includes(did)).map((t) => t.sipTrunkId);
  if (stale.length === 0) return;
  for (const r of await sip.listSipDispatchRule()) if (r.trunkIds.length > 0 && r.trunkIds.every((id) => stale.includes(id))) await sip.deleteSipDispatchRule(r.sipDispatchRuleId);
  for (const id of stale) await sip.deleteSipTrunk(id);
  console.log(`# removed ${stale.length} inbound trunk(s) a previous run left listing ${did}`);
};

const harnessOn = async (
  sip: SipClient,
  lk: RealLiveKit,
  opts: { name: string; did: string; carrier: string; inbound: InboundCallSink; progress: unknown[][]; hookLines: HookLine[] },
): Promise<InboundHarness> => {
  const quiet = () => undefined;
  const logger: MediaLogger = { info: quiet, warn: quiet, error: (o, m) => console.log('# error', m, JSON.stringify(o)) };
  const sink = recordingProgressSink(opts.progress);
  const media = createLiveKitMedia(
    { url: lk.url, publicUrl: lk.wsUrl, apiKey: lk.apiKey, apiSecret: lk.apiSecret, sipTrunkId: 'ST_unused', ringingTimeoutSeconds: 30, maxDurationSeconds: 600, callerTokenTtlSeconds: 120 },
    sink,
    { logger },
  );
  const handler = createLiveKitWebhookHandler({
    apiKey: lk.apiKey,
    apiSecret: lk.apiSecret,
    sink,
    logger: { ...logger, info: (o) => void opts.hookLines.push(o as HookLine) },
    onCallerLeft: async () => undefined,
    isTracking: (callId) => media.isTracking(callId),
    inbound: opts.inbound,
    inboundMedia: media,
  });
  const webhooks = await listenForLiveKitWebhooks(lk.webhookPort, handler);
  return {
    media,
    async phone(caller, rtpOptions) {
      const rtpPort = await freeUdpPort();
      const rtp = await startRtpEndpoint(rtpPort, rtpOptions);
      const call = await callDid({ fromAddress: opts.carrier, server: { host: '127.0.0.1', port: lk.sipPort }, did: opts.did, caller, mediaPort: rtpPort });
      return { call, rtp };
    },
    async close() {
      await media.close();
      await disposeRtcNode();
      await webhooks.close();
      await removeInboundRouting(sip, opts.name);
    },
  };
};
