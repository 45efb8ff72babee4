import { CURRENT_SCHEMA_VERSION } from '../domain/events';
import { badInput } from '../domain/shared/errors';
import type { Topic } from '../ports/bus';
import type { StoredEvent } from '../ports/event-store';
import { billingQueries } from './billing/queries';
import { logRerate, rerateIn, type RerateRequest, type RerateResult } from './billing/rerate';
import { billingView } from './billing/view';
import { callHistoryQueries } from './call-history/queries';
import { callHistoryView } from './call-history/view';
import { applyEvent, readCheckpoint, type ApplyOutcome } from './checkpoint';
import { crmQueries } from './crm-context/queries';
import { crmContextView } from './crm-context/view';
import { openDb, type Db, type DbConfig } from './db';
import { gatewayQueries } from './gateway-ports/queries';
import { gatewayPortsView } from './gateway-ports/view';
import { lockProjection, withRetry } from './locks';
import { migrate } from './migrations';
import { rebuildViews, type ReadAll, type RebuildResult } from './rebuild';
import { tablesFor } from './tables';
import { consoleLogger, PROJECTION_NAMES, type Logger, type ProjectionName, type View } from './view';

export type { ProjectionName } from './view';
export type { RerateRequest, RerateResult, RerateLine } from './billing/rerate';
export type { RebuildResult, ReadAll } from './rebuild';
export type { CallFilter, CallPage, TimelineEntry } from './call-history/queries';
export type { ChargeView, BillingSummary, BillingGroupBy } from './billing/queries';
export type { CallContextView } from './crm-context/queries';
export type { GatewayView, GatewayPortView, PortHourUsage } from './gateway-ports/queries';
export { progressBar } from './progress';
export { PROJECTION_NAMES };

export interface ReadModelsConfig extends DbConfig {
  logger?: Logger;
}

/** One projection as the bus sees it: a consumer group's handler. */
export interface Projection {
  readonly name: ProjectionName;
  /** Bus topics it consumes. */
  readonly topics: readonly Topic[];
  /**
   * True for every webdial event type. Deliver them all, not only the ones that write rows:
   * each event advances the projection's checkpoint (so it tracks the store's global position) and
   * its stream version (so a real gap can be told from a filtered one). Unknown types: false.
   */
  handles(type: string): boolean;
  /** Applies the event in one transaction with the checkpoint; a repeat is a no-op ('duplicate'). */
  apply(event: StoredEvent): Promise<ApplyOutcome>;
}

const KNOWN_TYPES = new Set(Object.keys(CURRENT_SCHEMA_VERSION));

const makeQueries = (db: Db) => {
  const sql = () => db.sql;
  return { ...callHistoryQueries(sql), ...billingQueries(sql), ...crmQueries(sql), ...gatewayQueries(sql) };
};
export type ReadQueries = ReturnType<typeof makeQueries>;

export interface ReadModels {
  readonly dialect: 'sqlite' | 'postgres';
  readonly projections: Projection[];
  readonly queries: ReadQueries;
  apply(name: ProjectionName, event: StoredEvent): Promise<ApplyOutcome>;
  /**
   * Applies several events (in delivery order) in ONE transaction with the checkpoint: for
   * consumers that receive batches (Kafka eachBatch). Same exactly-once guarantees as apply, at
   * one commit per batch instead of one per event. All or nothing: on error nothing is applied.
   */
  applyBatch(name: ProjectionName, events: readonly StoredEvent[]): Promise<ApplyOutcome[]>;
  /** Highest global position applied by the projection, or null before its first event. */
  checkpoint(name: ProjectionName | string): Promise<string | null>;
  /** Re-rates a merchant's charges of a period; writes (and logs the re-rating) only when !dryRun. */
  rerate(request: RerateRequest): Promise<RerateResult>;
  /** Rebuilds into fresh tables and swaps them in; queries keep answering meanwhile. */
  rebuild(
    names: readonly string[] | 'all',
    readAll: ReadAll,
    totalEvents: number,
    onProgress: (done: number, total: number) => void | Promise<void>,
  ): Promise<RebuildResult>;
  /**
   * Every row of the projections' tables, sorted by primary key, values normalised (numbers as
   * numbers): two read sides fed the same events dump equal. For tests such as "after a broker
   * restart every projection equals a fold of the event store" (rebuild a fresh copy, compare).
   */
  dump(names?: readonly ProjectionName[]): Promise<Record<string, Array<Record<string, unknown>>>>;
  /** Reachability probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the read side: the database (SQLite `<dataDir>/read.db` or PostgreSQL in `schema`),
 * runs pending migrations, and returns the four projections, their queries, rerate and rebuild.
 */
export const openReadModels = async (config: ReadModelsConfig): Promise<ReadModels> => {
  const log = config.logger ?? consoleLogger;
  const db = await openDb(config);
  const views: View[] = [callHistoryView(log), billingView(log), crmContextView(log), gatewayPortsView(log)];
  try {
    await migrate(db, views);
  } catch (e) {
    await db.close();
    throw e;
  }
  const live = tablesFor(db.sql, '');
  const viewOf = (name: string): View => {
    const v = views.find((x) => x.name === name);
    if (!v) throw badInput(`unknown projection "${name}"; known: ${PROJECTION_NAMES.join(', ')}`, { field: 'name' });
    return v;
  };

  const apply = (name: ProjectionName, event: StoredEvent): Promise<ApplyOutcome> => {
    const view = viewOf(name);
    return withRetry(() =>
      db.transaction(async (tx) => {
        await lockProjection(tx, db.schema, name, 'shared');
        return applyEvent(tx, view, name, live, event, log);
      }),
    );
  };

  const applyBatch = (name: ProjectionName, events: readonly StoredEvent[]): Promise<ApplyOutcome[]> => {
    const view = viewOf(name);
    if (events.length === 0) return Promise.resolve([]);
    return withRetry(() =>
      db.transaction(async (tx) => {
        await lockProjection(tx, db.schema, name, 'shared');
        const out: ApplyOutcome[] = [];
        for (const e of events) out.push(await applyEvent(tx, view, name, live, e, log));
        return out;
      }),
    );
  };

  return {
    dialect: db.dialect,
    projections: views.map((v) => ({
      name: v.name,
      topics: v.topics,
      handles: (type: string) => KNOWN_TYPES.has(type),
      apply: (event: StoredEvent) => apply(v.name, event),
    })),
    queries: makeQueries(db),
    apply,
    applyBatch,
    checkpoint: (name) => readCheckpoint(db.sql, name),
    rerate: (request) =>
      withRetry(() =>
        db.transaction(async (tx) => {
          await lockProjection(tx, db.schema, 'billing', 'shared');
          const result = await rerateIn(tx, live, request);
          if (!request.dryRun) await logRerate(tx, request, await readCheckpoint(tx, 'billing'));
          return result;
        }),
      ),
    rebuild: (names, readAll, totalEvents, onProgress) =>
      rebuildViews(db, names === 'all' ? views : [...new Set(names)].map(viewOf), readAll, totalEvents, onProgress, log),
    dump: async (names) => {
      const out: Record<string, Array<Record<string, unknown>>> = {};
      for (const v of views) {
        if (names && !names.includes(v.name)) continue;
        for (const def of v.tables) {
          // PostgreSQL hands bigint columns back as strings; SQLite as numbers: dump numbers.
          const bigints = new Set(def.columns(db.dialect).filter((c) => c.split(' ')[1] === 'bigint').map((c) => c.split(' ')[0]));
          const rows = await db.sql.all(`select * from ${db.sql.table(def.name)} order by ${def.primaryKey.join(', ')}`);
          out[def.name] = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, x]) => [k, bigints.has(k) && x !== null ? Number(x) : x])));
        }
      }
      return out;
    },
    ping: async () => {
      await db.sql.all('select 1 as ok');
    },
    close: () => db.close(),
  };
};
