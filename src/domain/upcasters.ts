/**
 * Schema steps of webdial's own events, as pure functions `data(v) → data(v + 1)`. The event store
 * adapters apply them on every read (src/adapters/eventstore/upcasting.ts), so code only ever sees the
 * shapes in CURRENT_SCHEMA_VERSION; stored rows are never rewritten.
 */
import type { WebdialEventType } from './events';

type Data = Record<string, unknown>;

export interface UpcastStep {
  type: WebdialEventType;
  fromVersion: number;
  up(data: Data): Data;
}

export const UPCAST_STEPS: readonly UpcastStep[] = [
  // Browser (PC-to-PC) call centers and agent console commands (issue 12): every earlier center
  // was a PSTN center, every earlier call a PSTN call answered by its gateway, and every earlier
  // command was keyed as DTMF.
  { type: 'CallCenterAdded', fromVersion: 1, up: (d) => ({ ...d, kind: 'PSTN' }) },
  { type: 'CallInitiated', fromVersion: 1, up: (d) => ({ ...d, media: 'PSTN' }) },
  { type: 'CallAnswered', fromVersion: 1, up: (d) => ({ ...d, answeredBy: null }) },
  { type: 'DtmfCommandRecognized', fromVersion: 1, up: (d) => ({ ...d, source: 'DTMF', agent: null }) },
  { type: 'ApiKeyIssued', fromVersion: 1, up: (d) => ({ ...d, callCenterId: null }) },
  // Failure reasons (issue 22): earlier terminations recorded none.
  { type: 'CallTerminated', fromVersion: 1, up: (d) => ({ ...d, reason: null }) },
  // Callbacks from PSTN centers (issue 25): every earlier try rang in a browser center's consoles.
  { type: 'CallbackCallPlaced', fromVersion: 1, up: (d) => ({ ...d, media: 'BROWSER' }) },
];
