import type { Db } from '../adapters/sql/db';
import { withRetry } from '../adapters/sql/retry';
import { billingQueries } from './billing/queries';
import { logRerate, rerateIn, type RerateRequest, type RerateResult } from './billing/rerate';
import { billingProjection } from './billing/projection';
import { callHistoryQueries } from './call-history/queries';
import { callHistoryProjection } from './call-history/projection';
import { crmQueries } from './crm-context/queries';
import { crmContextProjection } from './crm-context/projection';
import { gatewayQueries } from './gateway-ports/queries';
import { gatewayPortsProjection } from './gateway-ports/projection';
import { merchantQueries } from './merchants/queries';
import { merchantsProjection } from './merchants/projection';
import { callbackQueries } from './callbacks/queries';
import { callbacksProjection } from './callbacks/projection';
import { readCheckpoint } from './engine/checkpoint';
import { PROJECTION_NAMES } from './engine/common';
import { lockProjection } from './engine/locks';
import { openReadEngine, type ReadEngine, type ReadModelsConfig } from './engine/read-models';
import { tablesFor } from './engine/tables';

export type { ProjectionName } from './engine/common';
export type { BatchOutcome, DeadLetter } from './engine/checkpoint';
export type { Projection, ReadModelsConfig } from './engine/read-models';
export type { RerateRequest, RerateResult, RerateLine } from './billing/rerate';
export type { RebuildResult, ReadAll } from './engine/rebuild';
export type { CallFilter, CallPage, TimelineEntry } from './call-history/queries';
export type { ChargeView, BillingSummary, BillingGroupBy } from './billing/queries';
export type { CallContextView } from './crm-context/queries';
export type { GatewayView, GatewayPortView, PortHourUsage } from './gateway-ports/queries';
export type { CallbackListView, CallbackPage } from './callbacks/queries';
export type { MerchantConfigView, CallCenterConfigView, LinkConfigView, DtmfCommandView, ApiKeyView } from './merchants/queries';
export { progressBar } from './engine/progress';
export { PROJECTION_NAMES };

/** The read models' queries, on the read database's query connection. */
const makeQueries = (db: Db) => {
  const sql = () => db.sql;
  return { ...callHistoryQueries(sql), ...billingQueries(sql), ...crmQueries(sql), ...gatewayQueries(sql), ...merchantQueries(sql), ...callbackQueries(sql) };
};
export type ReadQueries = ReturnType<typeof makeQueries>;

/**
 * The read side: the engine over the five projections (./engine/read-models.ts), their queries, and
 * billing's re-rating.
 */
export interface ReadModels extends ReadEngine {
  readonly queries: ReadQueries;
  /** Re-rates a merchant's charges of a period; writes (and logs the re-rating) only when !dryRun. */
  rerate(request: RerateRequest): Promise<RerateResult>;
}

/**
 * Opens the read side: the database (SQLite `<dataDir>/read.db` or PostgreSQL in `schema`),
 * runs pending migrations, and returns the six projections (call-history, billing, crm-context, gateway-ports, merchants, callbacks), their queries, rerate and rebuild.
 */
export const openReadModels = async (config: ReadModelsConfig): Promise<ReadModels> => {
  const { engine, db } = await openReadEngine(config, [callHistoryProjection(), billingProjection(), crmContextProjection(), gatewayPortsProjection(), merchantsProjection(), callbacksProjection()]);
  const live = tablesFor(db.sql, '');
  return {
    ...engine,
    queries: makeQueries(db),
    rerate: (request) =>
      withRetry(() =>
        db.transaction(async (tx) => {
          await lockProjection(tx, db.schema, 'billing', 'shared');
          const result = await rerateIn(tx, live, request);
          if (!request.dryRun) await logRerate(tx, request, await readCheckpoint(tx, 'billing'));
          return result;
        }),
      ),
  };
};
