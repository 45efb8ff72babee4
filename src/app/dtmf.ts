import type { StoredEvent } from '../ports/event-store';
import type { DtmfCommandRecognized, DtmfReceived } from '../domain/call/events';
import type { ActiveMerchant } from '../domain/merchant/merchant';
import { collect, commandFor, emptyCollector, expire, DEFAULT_COLLECTOR_OPTIONS } from '../domain/call/dtmf-collector';

/**
 * Replays a call's DTMF digits through the pure collector and returns every command they make, in
 * order. Deterministic over the stored events, so the caller can append just the ones not recorded
 * yet (idempotent under retries and concurrent reports).
 */
export const recognizeDtmf = (events: StoredEvent[], merchant: ActiveMerchant): Array<DtmfCommandRecognized['data']> => {
  let state = emptyCollector;
  const out: Array<DtmfCommandRecognized['data']> = [];
  for (const e of events) {
    if (e.type !== 'DtmfReceived') continue;
    const d = e.data as DtmfReceived['data'];
    const at = new Date(d.at);
    const expired = expire(state, at, DEFAULT_COLLECTOR_OPTIONS);
    const r = collect(expired.state, d.digits, at, merchant.dtmfTable, DEFAULT_COLLECTOR_OPTIONS);
    state = r.state;
    for (const rec of [...expired.recognized, ...r.recognized]) out.push({ callId: d.callId, ...commandFor(rec, merchant, d.at) });
  }
  return out;
};
