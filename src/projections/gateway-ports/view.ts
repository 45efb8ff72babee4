import type { GatewayCreated, PortEvent } from '../../domain/gateway/events';
import { unreachable } from '../../domain/shared/decider';
import { iso } from '../../adapters/sql/values';
import type { View } from '../engine/projection-of';

/** What gateway-ports reads: a gateway's configuration and its ports' seizures. */
export type GatewayPortsEvent = GatewayCreated | PortEvent;

/** A gateway as configured (gp_gateways). */
export type GatewayRow = { id: string; name: string; region: string };

/** Occupancy per port (gp_ports): the contract's GatewayPort, plus when the current seizure began. */
export type PortRow = {
  gateway_id: string;
  number: number;
  ani: string;
  /** 1 while a call holds the port. */
  busy: 0 | 1;
  call_id: string | null;
  busy_since: string | null;
};

/** Busy milliseconds of a port in one UTC hour (gp_busy), a counter. */
export type BusyHourRow = { gateway_id: string; number: number; hour: string; busy_ms: number };

/** A gateway's row: written once, by its creation. */
export const gatewayView: View<GatewayRow, GatewayPortsEvent> = {
  name: 'gateway@1',
  initialState: null,
  handles: new Set<GatewayPortsEvent['type']>(['GatewayCreated']),
  creates: new Set<GatewayPortsEvent['type']>(['GatewayCreated']),
  evolve: (row, event) => {
    switch (event.type) {
      case 'GatewayCreated':
        return { id: event.data.gatewayId, name: event.data.name, region: event.data.region };
      case 'PortSeized':
      case 'PortReleased':
        return row;
      default:
        return unreachable(event);
    }
  },
};

/**
 * A port's row. The gateway's stream and each port's stream are different Kafka keys, so a
 * PortSeized may arrive before its GatewayCreated: the seizure creates the row, and the creation
 * then leaves it as it is. GatewayCreated reaches each port row with that port only (the
 * projection's `each`).
 */
export const portView: View<PortRow, GatewayPortsEvent> = {
  name: 'gateway-port@1',
  initialState: null,
  handles: new Set<GatewayPortsEvent['type']>(['GatewayCreated', 'PortSeized', 'PortReleased']),
  creates: new Set<GatewayPortsEvent['type']>(['PortSeized']),
  evolve: (row, event) => {
    switch (event.type) {
      case 'GatewayCreated': {
        const [port] = event.data.ports;
        if (row !== null || port === undefined) return row;
        return { gateway_id: event.data.gatewayId, number: port.number, ani: port.ani, busy: 0, call_id: null, busy_since: null };
      }
      case 'PortSeized': {
        const d = event.data;
        return { gateway_id: d.gatewayId, number: d.port, ani: d.ani, busy: 1, call_id: d.callId, busy_since: iso(d.at) };
      }
      case 'PortReleased':
        // A release of a port not held by that call (a late duplicate of an earlier seizure's) changes nothing.
        return row === null || row.call_id !== event.data.callId ? row : { ...row, busy: 0, call_id: null, busy_since: null };
      default:
        return unreachable(event);
    }
  },
};

const HOUR_MS = 3_600_000;

/** Splits [from, to) at UTC hour boundaries: [hourStartIso, ms] pairs. */
export const splitByHour = (fromIso: string, toIso: string): Array<[string, number]> => {
  const out: Array<[string, number]> = [];
  let a = Date.parse(fromIso);
  const b = Date.parse(toIso);
  while (a < b) {
    const hour = Math.floor(a / HOUR_MS) * HOUR_MS;
    const end = Math.min(b, hour + HOUR_MS);
    out.push([new Date(hour).toISOString(), end - a]);
    a = end;
  }
  return out;
};

/** What a release adds to its port's busy hours: the seizure it ends, split at UTC hours. */
export const busyHoursAdded = (before: PortRow | null, event: GatewayPortsEvent): BusyHourRow[] => {
  if (event.type !== 'PortReleased' || before === null || before.call_id !== event.data.callId || before.busy_since === null) return [];
  const d = event.data;
  return splitByHour(before.busy_since, iso(d.at)).map(([hour, ms]) => ({ gateway_id: d.gatewayId, number: d.port, hour, busy_ms: ms }));
};
