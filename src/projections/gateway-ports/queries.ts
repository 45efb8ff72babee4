import { badInput } from '../../domain/shared/errors';
import { isoInput, num, strOrNull, type Sql } from '../../adapters/sql/db';

/** The contract's GatewayPort. */
export interface GatewayPortView {
  gatewayId: string;
  number: number;
  ani: string;
  busy: boolean;
  callId: string | null;
}

export interface GatewayView {
  id: string;
  name: string;
  region: string;
  ports: GatewayPortView[];
}

export interface PortHourUsage {
  port: number;
  /** Start of the UTC hour, ISO-8601. */
  hour: string;
  busySeconds: number;
  /** busySeconds / 3600. */
  utilisation: number;
}

export const gatewayQueries = (db: () => Sql) => ({
  /** A gateway and its ports by number, or null when unknown (ports seen before the gateway are not shown). */
  async gateway(gatewayId: string): Promise<GatewayView | null> {
    const sql = db();
    const g = await sql.all(`select id, name, region from ${sql.table('gp_gateways')} where id = ?`, [gatewayId]);
    if (g.length === 0) return null;
    const ports = await sql.all(`select gateway_id, number, ani, busy, call_id from ${sql.table('gp_ports')} where gateway_id = ? order by number`, [
      gatewayId,
    ]);
    return {
      id: String(g[0].id),
      name: String(g[0].name),
      region: String(g[0].region),
      ports: ports.map((p) => ({
        gatewayId: String(p.gateway_id),
        number: num(p.number),
        ani: String(p.ani),
        busy: num(p.busy) === 1,
        callId: strOrNull(p.call_id),
      })),
    };
  },

  /**
   * Busy seconds per port per UTC hour for hours starting in [from, to). Only finished seizures
   * count: a port busy right now adds its time when it is released.
   */
  async portUtilisation(gatewayId: string, from: string | Date, to: string | Date): Promise<PortHourUsage[]> {
    const [f, t] = [isoInput(from, 'from'), isoInput(to, 'to')];
    if (!(f < t)) throw badInput('from must be before to', { field: 'from' });
    const sql = db();
    const rows = await sql.all(
      `select number, hour, busy_ms from ${sql.table('gp_busy')} where gateway_id = ? and hour >= ? and hour < ? order by hour, number`,
      [gatewayId, f, t],
    );
    return rows.map((r) => {
      const busySeconds = num(r.busy_ms) / 1000;
      return { port: num(r.number), hour: String(r.hour), busySeconds, utilisation: busySeconds / 3600 };
    });
  },
});
