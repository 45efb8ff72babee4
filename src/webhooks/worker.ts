import { randomUUID } from 'node:crypto';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EventBus } from '../ports/bus';
import type { EventStore, StoredEvent } from '../ports/event-store';
import type { Clock } from '../ports/clock';
import type { CommandHandler } from '../app/command-handler';
import type { IdGenerator } from '../app/ids';
import type { CallEvent } from '../domain/call/events';
import { screenPopOf } from '../projections/crm-context/view';
import type { DbConfig } from '../adapters/sql/db';
import type { WebhookUrlPolicy } from '../domain/webhook/events';
import type { RetryPolicy } from './backoff';
import { WebhookDeliveries, type Backlog, type NewDelivery } from './deliveries';
import { createPost, type Post } from './http-post';
import { planDeliveries } from './planner';
import { WebhookRegistry } from './registry';
import { follow } from '../app/follow';
import { SecretSealer } from './sealed-secrets';
import { WebhookSender } from './sender';
import { WebhookService } from './service';
import type { Resolve } from './url-policy';
import { tracedBatch } from '../observability/tracing';

export interface WebhookConfig {
  urlPolicy: WebhookUrlPolicy;
  concurrency: number;
  timeoutMs: number;
  retry: RetryPolicy;
  failingAfterMs: number;
  /** Delivered rows are kept this long (listing, replay), then pruned. */
  retentionMs: number;
  pollMs: number;
}

export interface WebhookLogger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

export interface WebhookDeps {
  store: EventStore;
  bus: EventBus;
  handler: CommandHandler;
  clock: Clock;
  ids: IdGenerator;
  /** The server's token secret: webhook secrets are sealed under a key derived from it. */
  serverSecret: Buffer;
  readDb: DbConfig;
  /** Consumer group of the delivery worker (one for all instances: Kafka spreads the calls over them). */
  group: string;
  logger: WebhookLogger;
  metrics?: Registry;
  assertMerchant: (merchantId: string) => Promise<void>;
  /** Tests: a resolver for the address check, a POST stub. */
  resolve?: Resolve;
  post?: Post;
}

export interface Webhooks {
  service: WebhookService;
  deliveries: WebhookDeliveries;
  registry: WebhookRegistry;
  /** Starts the planner and the sender: the composition root's `webhooks` process (a cluster one with Kafka). */
  startWork(): Promise<{ stop(): Promise<void> }>;
  /** The consumer's core, over one batch of events (exported for the bus adapter and the tests). */
  handleBatch(events: readonly StoredEvent[], checkpoint?: { source: string; position: string } | null): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The webhook worker of one instance: the endpoint registry, the outbox, a checkpointed bus consumer
 * that plans deliveries into the outbox (exactly-once in effect: rows are keyed by webhook-id and
 * written with the checkpoint), and the sender that works the outbox off with leases, so that any
 * number of instances share the work and a call's events go out one at a time, in order.
 */
export const startWebhooks = async (deps: WebhookDeps, config: WebhookConfig): Promise<Webhooks> => {
  const deliveries = await WebhookDeliveries.open(deps.readDb);
  const registry = new WebhookRegistry(deps.store);
  const http = deps.post ? { post: deps.post, close: () => undefined } : createPost(config.urlPolicy);
  let sender: WebhookSender | null = null;
  try {
    await registry.start((e) => deps.logger.warn({ err: e }, `webhook registry: ${(e as Error).message}`));
    const sealer = new SecretSealer(deps.serverSecret);
    const service = new WebhookService(deps.handler, registry, deliveries, sealer, deps.clock, deps.ids, {
      urlPolicy: config.urlPolicy,
      resolve: deps.resolve,
      assertMerchant: deps.assertMerchant,
    });
    const m = deps.metrics ? webhookMetrics(deps.metrics, deliveries, registry, deps.clock) : null;
    // A sender per term of the `webhooks` job: a stopped sender does not start again.
    const newSender = () => new WebhookSender(
      {
        deliveries,
        registry,
        sealer,
        post: http.post,
        now: () => deps.clock.now(),
        onEndpointFailing: async (endpointId, failingSince, lastError) => {
          deps.logger.warn({ endpointId, failingSince, lastError }, `webhook endpoint ${endpointId} is failing since ${failingSince}: deliveries held until the merchant enables or replays it`);
          await service.markFailing(endpointId, failingSince, lastError);
        },
        observer: m
          ? {
              attempt: (outcome) => m.attempts.inc({ outcome }),
              delivered: (s) => m.latency.observe(s),
            }
          : undefined,
        onError: (err, what) => deps.logger.error({ err }, what),
      },
      { owner: `${process.pid}-${randomUUID().slice(0, 8)}`, concurrency: config.concurrency, timeoutMs: config.timeoutMs, retry: config.retry, failingAfterMs: config.failingAfterMs, pollMs: config.pollMs },
    );

    // The core, over one batch of events: plan the deliveries, add them to the outbox, then move
    // the checkpoint. Checkpoints of batches that planned nothing are written at most once a second:
    // replaying a few events after a crash plans nothing twice (rows are keyed by webhook-id).
    let lastCheckpointAt = 0;
    // The pop as the call was when it rang: crm-context's View over the call's events up to then.
    const screenPop = async (ringing: StoredEvent) =>
      screenPopOf((await deps.store.readStream(ringing.streamId)).filter((e) => e.streamVersion <= ringing.streamVersion).map((e) => ({ type: e.type, data: e.data }) as CallEvent));
    const handleBatch = async (events: readonly StoredEvent[], checkpoint: { source: string; position: string } | null = null): Promise<void> => {
      let rows: NewDelivery[] = [];
      if (events.length > 0) {
        let last = events[0].position;
        for (const e of events) if (e.position > last) last = e.position;
        await registry.caughtUpTo(last);
        rows = await planDeliveries(events, { subscribers: (merchant, type) => registry.subscribers(merchant, type), screenPop });
      }
      const now = deps.clock.now();
      if (rows.length === 0 && (checkpoint === null || now.getTime() - lastCheckpointAt < 1000)) return;
      const inserted = await deliveries.enqueue(rows, checkpoint && { name: `${deps.group}@${checkpoint.source}`, position: checkpoint.position }, now.toISOString());
      if (checkpoint) lastCheckpointAt = now.getTime();
      if (inserted > 0) sender?.wake();
    };

    // The work: the planner (a consumer of the bus: a batch's events, and its source's watermark as
    // the checkpoint; the in-process bus resumes from it, Kafka from its committed offsets) and the
    // sender working the outbox off, with the pruner of delivered rows.
    const startWork = async (): Promise<{ stop(): Promise<void> }> => {
      const snd = newSender();
      sender = snd;
      const planner = await follow(
        { bus: deps.bus, topics: ['webdial.calls'], group: deps.group },
        {
          name: 'webhook planner',
          // Within the `webhooks` cluster process: one group, one member at a time.
          scope: 'cluster',
          checkpoint: { from: 'group', fromBeginning: true, after: await deliveries.checkpoint(`${deps.group}@`) },
          handleBatch: (batch) =>
            tracedBatch('webhook.plan', batch.events, {}, () => handleBatch(batch.events, batch.watermark === null ? null : { source: batch.source, position: batch.watermark })),
          onRetry: (err, attempt, batch) => {
            if (attempt === 1 || attempt % 10 === 0)
              deps.logger.warn({ err, attempt, source: batch.source, events: batch.events.length }, `webhook worker: planning a batch failed (attempt ${attempt}); retrying, nothing is skipped`);
          },
        },
      );
      snd.start();
      const pruner = setInterval(() => {
        deliveries.prune(new Date(deps.clock.now().getTime() - config.retentionMs).toISOString()).catch((err: unknown) => deps.logger.warn({ err }, 'webhook outbox: pruning delivered rows failed'));
      }, 10 * 60_000);
      pruner.unref();
      return {
        stop: async () => {
          clearInterval(pruner);
          await planner.stop();
          await snd.stop();
          if (sender === snd) sender = null;
        },
      };
    };
    return {
      service,
      deliveries,
      registry,
      handleBatch,
      startWork,
      stop: async () => {
        http.close();
        await registry.stop();
        await deliveries.close();
      },
    };
  } catch (e) {
    http.close();
    await registry.stop().catch(() => undefined);
    await deliveries.close().catch(() => undefined);
    throw e;
  }
};

/** /metrics: the outbox backlog (read at scrape time), attempts by outcome, append-to-2xx latency, endpoints by status. */
const webhookMetrics = (registry: Registry, deliveries: WebhookDeliveries, endpoints: WebhookRegistry, clock: Clock) => {
  // One query per scrape feeds both gauges.
  let scrape: Promise<Backlog | null> | null = null;
  const read = () =>
    (scrape ??= deliveries
      .backlog()
      .catch(() => null)
      .finally(() => setTimeout(() => (scrape = null), 100)));
  new Gauge({
    name: 'webdial_webhook_backlog',
    help: 'Webhook deliveries not delivered yet, by status (PENDING: queued or retrying; FAILED: given up, replayable)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const b = await read();
      if (!b) return;
      this.set({ status: 'PENDING' }, b.pending);
      this.set({ status: 'FAILED' }, b.failed);
    },
  });
  new Gauge({
    name: 'webdial_webhook_oldest_pending_seconds',
    help: 'Age of the oldest pending webhook delivery (0 when none)',
    registers: [registry],
    async collect() {
      const b = await read();
      if (b) this.set(b.oldestPendingRecordedAt ? Math.max(0, (clock.now().getTime() - Date.parse(b.oldestPendingRecordedAt)) / 1000) : 0);
    },
  });
  new Gauge({
    name: 'webdial_webhook_endpoints',
    help: 'Webhook endpoints by status',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      const counts = { ACTIVE: 0, DISABLED: 0, FAILING: 0 };
      for (const e of endpoints.list(null)) counts[e.status]++;
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  return {
    attempts: new Counter({ name: 'webdial_webhook_attempts_total', help: 'Webhook delivery attempts by outcome (delivered, retry, failed)', labelNames: ['outcome'], registers: [registry] }),
    latency: new Histogram({
      name: 'webdial_webhook_delivery_seconds',
      help: 'Time from an event being stored to its webhook being acknowledged (2xx)',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
  };
};
