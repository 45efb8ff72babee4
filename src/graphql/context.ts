import DataLoader from 'dataloader';
import type { Principal } from '../app/auth';
import type { CallUseCases } from '../app/calls';
import type { AdminService } from '../app/admin-service';
import type { DidService } from '../app/did-service';
import type { ApiKeyAuthenticator } from '../app/auth';
import type { CallTokens } from '../app/call-token';
import type { EventStore } from '../ports/event-store';
import type { Clock } from '../ports/clock';
import type { CallContextView, ChargeView, DeadLetter as DeadLetterView, ReadQueries, RerateRequest, RerateResult } from '../projections';
import type { EventHub } from '../app/event-hub';
import type { ScreenPops } from '../app/screen-pops';
import type { CallEventReplay } from '../app/replay';
import type { QueueView } from '../app/calls/queue-view';
import type { RateLimiter } from '../ports/rate-limit';
import type { WebhookService } from '../webhooks/service';
import type { ReadSideProgress } from '../app/consistency';
import type { AgentService } from '../app/agent-service';
import type { TransferService } from '../app/transfer-service';
import type { ExportTickets } from '../app/export-tickets';

/** Everything the resolvers may use; built once at the composition root. */
export interface ApiServices {
  /** The call's use cases (src/app/calls/). */
  calls: CallUseCases;
  admin: AdminService;
  /** Virtual numbers (DIDs, issue 23). */
  dids: DidService;
  reads: ReadQueries;
  store: EventStore;
  hub: EventHub;
  /** The `screenPops` subscription's feed (read side). */
  screenPops: ScreenPops;
  /** The `replayCallEvents` subscription's feed. */
  replay: CallEventReplay;
  /** The queue as the shopper (customerSession's QUEUE_POSITION) and the console (`queue`) see it (issue 25). */
  queue: QueueView;
  auth: ApiKeyAuthenticator;
  tokens: CallTokens;
  limiter: RateLimiter;
  webhooks: WebhookService;
  clock: Clock;
  /** Read your writes: waits until the projections reached a position a client sends back. */
  readProgress: ReadSideProgress;
  /** The agent console's use cases and the dashboard's export and what-if (issue 12). */
  people: PeopleServices;
  /** The read side's dead letters: listed (scoped to a merchant, or all) and replayed. */
  deadLetters: {
    list(filter: { merchantId: string | null; first: number }): Promise<DeadLetterView[]>;
    replay(id: number, merchantId: string | null): Promise<DeadLetterView>;
  };
}

/** The API services the people's pages add (issue 12): built with the pages, in src/composition/pages.ts. */
export interface PeopleServices {
  agents: AgentService;
  /** Issue 25: the console's transfers (blind, warm). */
  transfers: TransferService;
  exports: ExportTickets;
  /** The re-rate what-if: the dry-run re-rating (nothing is written). */
  rerateDryRun(request: Omit<RerateRequest, 'dryRun'>): Promise<RerateResult>;
}

export interface GraphQLContext {
  principal: Principal;
  correlationId: string;
  clientAddress: string;
  /** The browser's Origin header (HTTP only): widget downloads must come from the merchant's origins. */
  origin?: string | null;
  services: ApiServices;
  loaders: {
    charge: DataLoader<string, ChargeView | null>;
    context: DataLoader<string, CallContextView | null>;
  };
}

/**
 * Per-request loaders: one query for all the charges (or contexts) a response needs. Made on first
 * use: most requests (mutations, a subscription's thousands of deliveries) never ask for either.
 */
export const createLoaders = (reads: ReadQueries): GraphQLContext['loaders'] => {
  let charge: GraphQLContext['loaders']['charge'] | undefined;
  let context: GraphQLContext['loaders']['context'] | undefined;
  return {
    get charge() {
      return (charge ??= new DataLoader(async (ids: readonly string[]) => {
        const m = await reads.chargesForCalls(ids);
        return ids.map((id) => m.get(id) ?? null);
      }));
    },
    get context() {
      return (context ??= new DataLoader(async (ids: readonly string[]) => {
        const m = await reads.contextsForCalls(ids);
        return ids.map((id) => m.get(id) ?? null);
      }));
    },
  };
};
