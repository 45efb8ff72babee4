import { after } from 'node:test';
import { startLiveKitDouble, type LiveKitDouble } from '../support/livekit-double';
import { mediaContract } from '../../src/media/contract';
import { createLiveKitMedia } from '../../src/media/livekit/livekit-media';

// The LiveKit adapter under the same contract as the simulator and external, against the
// wire-level double (real HTTP, the real SDK); test/e2e/voice.e2e.ts runs a real LiveKit.
let lk: LiveKitDouble | null = null;
after(() => lk?.close());
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

mediaContract('LiveKit', async (_t, sink) => {
  lk ??= await startLiveKitDouble({ trunks: ['ST_configured'] });
  const media = createLiveKitMedia(
    { url: lk.url, apiKey: lk.apiKey, apiSecret: lk.apiSecret, sipTrunkId: 'ST_configured', ringingTimeoutSeconds: 30, maxDurationSeconds: 3600, callerTokenTtlSeconds: 120, dtmfGapMs: 1 },
    sink,
    { logger: quiet, roomParticipantFactory: lk.roomParticipantFactory },
  );
  return { media, dispose: () => media.close() };
});
