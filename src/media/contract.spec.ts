import { mediaContract } from './contract';
import { CallCenterSimulator } from './simulator/simulator';
import { ExternalMedia } from './external';

// The simulator answers quickly and keys no DTMF; external dials nothing (its reports come from the GATEWAY mutations).
mediaContract('simulator', async (_t, sink) => {
  const media = new CallCenterSimulator({ seed: 7, ringDelayMs: 20, answerDelayMs: 30, talkMs: 5_000, busyRate: 0, noAnswerRate: 0, dtmfScript: '' }, sink);
  return { media, dispose: () => media.close() };
});
mediaContract('external', async () => {
  const media = new ExternalMedia();
  return { media, dispose: () => media.close() };
});
