import type { GatewayCreated, PortEvent } from '../../domain/gateway/events';
import { iso, strOrNull, types } from '../db';
import type { RowProjection } from '../rows';
import type { TableDef } from '../tables';

export const GATEWAYS: TableDef = {
  name: 'gp_gateways',
  columns: (d) => {
    const t = types(d);
    return [`id ${t.key} not null`, `name ${t.text} not null`, `region ${t.text} not null`];
  },
  primaryKey: ['id'],
};

/** Occupancy per port: the contract's GatewayPort, plus when the current seizure began. */
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

/** Utilisation over time: busy milliseconds per port per UTC hour, added when a seizure ends. */
export const BUSY_HOURS: TableDef = {
  name: 'gp_busy',
  columns: (d) => {
    const t = types(d);
    return [`gateway_id ${t.key} not null`, `number ${t.int} not null`, `hour ${t.key} not null`, `busy_ms ${t.big} not null`];
  },
  primaryKey: ['gateway_id', 'hour', 'number'],
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

/**
 * gateway-ports: ports per gateway with their occupancy, and busy time per port per hour.
 * The gateway's stream and each port's stream are different Kafka keys, so a PortSeized may arrive
 * before its GatewayCreated: both sides upsert the port row and neither clobbers the other's fields.
 */
export const gatewayPortsProjection = (): RowProjection => ({
  name: 'gateway-ports',
  tables: [GATEWAYS, PORTS, BUSY_HOURS],
  prefetch: (stored) => {
    if (stored.type === 'GatewayCreated') {
      const d = (stored as unknown as GatewayCreated).data;
      return d.ports.map((p) => ({ table: 'gp_ports', key: [d.gatewayId, p.number] }));
    }
    if (stored.type === 'PortSeized' || stored.type === 'PortReleased') {
      const d = stored.data as { gatewayId: string; port: number };
      return [{ table: 'gp_ports', key: [d.gatewayId, d.port] }];
    }
    return [];
  },
  apply: (rows, stored, warn) => {
    if (stored.type === 'GatewayCreated') {
      const d = (stored as unknown as GatewayCreated).data;
      rows.insertOnce('gp_gateways', { id: d.gatewayId, name: d.name, region: d.region });
      for (const p of d.ports)
        if (!rows.get('gp_ports', [d.gatewayId, p.number]))
          rows.put('gp_ports', { gateway_id: d.gatewayId, number: p.number, ani: p.ani, busy: 0, call_id: null, busy_since: null });
      return;
    }
    const event = stored as unknown as PortEvent;
    switch (event.type) {
      case 'PortSeized': {
        const d = event.data;
        rows.put('gp_ports', { gateway_id: d.gatewayId, number: d.port, ani: d.ani, busy: 1, call_id: d.callId, busy_since: iso(d.at) });
        return;
      }
      case 'PortReleased': {
        const d = event.data;
        const current = rows.get('gp_ports', [d.gatewayId, d.port]);
        if (!current || strOrNull(current.call_id) !== d.callId)
          return warn({ gatewayId: d.gatewayId, port: d.port, callId: d.callId }, 'gateway-ports: release of a port not held by that call');
        rows.put('gp_ports', { ...current, busy: 0, call_id: null, busy_since: null });
        const since = strOrNull(current.busy_since);
        if (since)
          for (const [hour, ms] of splitByHour(since, iso(d.at)))
            rows.add('gp_busy', { gateway_id: d.gatewayId, number: d.port, hour, busy_ms: ms }, ['busy_ms']);
        return;
      }
      default:
        return;
    }
  },
});
