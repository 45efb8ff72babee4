import { unreachable } from '../../domain/shared/decider';
import { types } from '../../adapters/sql/db';
import type { RowProjection } from '../engine/rows';
import type { TableDef } from '../engine/tables';
import { projectionOf, viewTable } from '../engine/projection-of';
import { busyHoursAdded, gatewayView, portView, type GatewayPortsEvent } from './view';

/** gp_gateways: one row per gateway (./view.ts `GatewayRow`). */
export const GATEWAYS: TableDef = {
  name: 'gp_gateways',
  columns: (d) => {
    const t = types(d);
    return [`id ${t.key} not null`, `name ${t.text} not null`, `region ${t.text} not null`];
  },
  primaryKey: ['id'],
};

/** gp_ports: occupancy per port (./view.ts `PortRow`). */
export const PORTS: TableDef = {
  name: 'gp_ports',
  columns: (d) => {
    const t = types(d);
    return [
      `gateway_id ${t.key} not null`,
      `number ${t.int} not null`,
      `ani ${t.key} not null`,
      `busy ${t.int} not null default 0`,
      `call_id ${t.key}`,
      `busy_since ${t.key}`,
    ];
  },
  primaryKey: ['gateway_id', 'number'],
};

/** gp_busy: utilisation over time, busy milliseconds per port per UTC hour (./view.ts `BusyHourRow`), added when a seizure ends. */
export const BUSY_HOURS: TableDef = {
  name: 'gp_busy',
  columns: (d) => {
    const t = types(d);
    return [`gateway_id ${t.key} not null`, `number ${t.int} not null`, `hour ${t.key} not null`, `busy_ms ${t.big} not null`];
  },
  primaryKey: ['gateway_id', 'hour', 'number'],
};

/** The port row an event is about. */
const portKey = (event: GatewayPortsEvent) => {
  switch (event.type) {
    case 'GatewayCreated': {
      const [port] = event.data.ports;
      return port === undefined ? null : [event.data.gatewayId, port.number];
    }
    case 'PortSeized':
    case 'PortReleased':
      return [event.data.gatewayId, event.data.port];
    default:
      return unreachable(event);
  }
};

/** ports per gateway with their occupancy, and busy time per port per hour (./view.ts). */
export const gatewayPortsProjection = (): RowProjection =>
  projectionOf<GatewayPortsEvent>('gateway-ports', [
    viewTable({ view: gatewayView, table: GATEWAYS, key: (e) => [e.data.gatewayId] }),
    viewTable({
      view: portView,
      table: PORTS,
      key: portKey,
      // One creation declares every port: each port's row sees it with its own port only.
      each: (e) => (e.type === 'GatewayCreated' ? e.data.ports.map((port) => ({ ...e, data: { ...e.data, ports: [port] } })) : [e]),
      counts: { table: BUSY_HOURS, columns: ['busy_ms'], add: busyHoursAdded },
    }),
  ]);
