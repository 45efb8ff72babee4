import type { GatewayCreated, PortEvent } from '../../domain/gateway/events';
import { iso, strOrNull, types, type Sql } from '../db';
import type { TableDef, Tables } from '../tables';
import type { Logger, View } from '../view';

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

const TYPES = new Set(['GatewayCreated', 'PortSeized', 'PortReleased']);

/**
 * gateway-ports: ports per gateway with their occupancy, and busy time per port per hour.
 * The gateway's stream and each port's stream are different Kafka keys, so a PortSeized may arrive
 * before its GatewayCreated: both sides upsert the port row and neither clobbers the other's fields.
 */
export const gatewayPortsView = (log: Logger): View => ({
  name: 'gateway-ports',
  topics: ['webdial.gateways'],
  tables: [GATEWAYS, PORTS, BUSY_HOURS],
  handles: (type) => TYPES.has(type),
  apply: async (tx, t, stored) => {
    if (stored.type === 'GatewayCreated') return createGateway(tx, t, (stored as unknown as GatewayCreated).data);
    const event = stored as unknown as PortEvent;
    const ports = t('gp_ports');
    switch (event.type) {
      case 'PortSeized': {
        const d = event.data;
        await tx.run(
          `insert into ${ports} (gateway_id, number, ani, busy, call_id, busy_since) values (?, ?, ?, 1, ?, ?)
           on conflict (gateway_id, number) do update set busy = 1, call_id = excluded.call_id, busy_since = excluded.busy_since, ani = excluded.ani`,
          [d.gatewayId, d.port, d.ani, d.callId, iso(d.at)],
        );
        return;
      }
      case 'PortReleased': {
        const d = event.data;
        const rows = await tx.all(`select call_id, busy_since from ${ports} where gateway_id = ? and number = ?`, [d.gatewayId, d.port]);
        const current = rows[0];
        if (!current || strOrNull(current.call_id) !== d.callId) {
          log.warn({ gatewayId: d.gatewayId, port: d.port, callId: d.callId }, 'gateway-ports: release of a port not held by that call');
          return;
        }
        await tx.run(`update ${ports} set busy = 0, call_id = null, busy_since = null where gateway_id = ? and number = ?`, [d.gatewayId, d.port]);
        const since = strOrNull(current.busy_since);
        if (since) await addBusyTime(tx, t, d.gatewayId, d.port, since, iso(d.at));
        return;
      }
      default:
        return;
    }
  },
});

const createGateway = async (tx: Sql, t: Tables, d: GatewayCreated['data']) => {
  await tx.run(`insert into ${t('gp_gateways')} (id, name, region) values (?, ?, ?) on conflict (id) do nothing`, [d.gatewayId, d.name, d.region]);
  for (const p of d.ports)
    await tx.run(
      `insert into ${t('gp_ports')} (gateway_id, number, ani, busy) values (?, ?, ?, 0) on conflict (gateway_id, number) do nothing`,
      [d.gatewayId, p.number, p.ani],
    );
};

const addBusyTime = async (tx: Sql, t: Tables, gatewayId: string, port: number, from: string, to: string) => {
  for (const [hour, ms] of splitByHour(from, to))
    await tx.run(
      `insert into ${t('gp_busy')} as b (gateway_id, number, hour, busy_ms) values (?, ?, ?, ?)
       on conflict (gateway_id, hour, number) do update set busy_ms = b.busy_ms + excluded.busy_ms`,
      [gatewayId, port, hour, ms],
    );
};
