import type { CallDownloads } from './download';
import type { CallInitiation } from './initiation';
import type { CallerActions } from './caller';
import type { GatewayReports } from './reports';
import type { CallReader } from './reader';
import type { CallbackBookings } from './callbacks';

/**
 * The call's use cases, one file each (docs/architecture.md follows a call through them):
 * download.ts → initiation.ts (with capacity.ts) → reports.ts / caller.ts → effects.ts, supervisor.ts;
 * reader.ts answers with the call as stored.
 */
export interface CallUseCases {
  downloads: CallDownloads;
  initiation: CallInitiation;
  caller: CallerActions;
  reports: GatewayReports;
  reader: CallReader;
  /** Issue 25: callbacks booked and cancelled (./callbacks.ts). */
  callbacks: CallbackBookings;
}
