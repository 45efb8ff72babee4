import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Config } from './config';
import type { Logger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { makePrivate, newAdminKey, newTokenSecret, persistentSecret } from './secrets';
import { createEventStore } from '../adapters/eventstore';
import { MemoryBus } from '../adapters/bus/memory';
import { openReadModels, type ReadModels } from '../projections';
import type { EventBus } from '../ports/bus';
import type { EventStore, StoredEvent } from '../ports/event-store';
import { systemClock, type Clock } from '../ports/clock';
import type { CallProgressSink, InboundCallSink, MediaGateway } from '../ports/media';
import { CommandHandler } from '../app/command-handler';
import { randomIds } from '../app/ids';
import { LiveState } from '../app/live-state';
import { CallTokens } from '../app/call-token';
import { ReadSideProgress } from '../app/consistency';
import { AdminService } from '../app/admin-service';
import { DidService } from '../app/did-service';
import { SipClient } from 'livekit-server-sdk';
import { createInboundNumberSync } from '../media/livekit/inbound-routing';
import { ApiKeyAuthenticator } from '../app/auth';
import { Relay } from '../app/relay';
import { noCheckpoints } from '../ports/checkpoint';
import { Cluster, leaseCheckpoints } from '../app/cluster';
import { Processes } from '../app/processes';
import { lagsOf, projectionsProcess, recordUndecodable, settled } from '../app/read-side';
import type { Lease } from '../ports/lease';
import { joinCluster } from './cluster';
import { createKafkaBus } from '../adapters/bus/kafka';
import express from 'express';
import type { LiveKitMedia } from '../media/livekit/livekit-media';
import type { CallUseCases } from '../app/calls';
import { wireCalls } from './calls';
import { createLiveKitWebhookHandler } from '../media/livekit/webhooks';
import { InboundCalls } from '../app/calls/inbound';
import { follow } from '../app/follow';
import { EventHub } from '../app/event-hub';
import { QueueView } from '../app/calls/queue-view';
import { ScreenPops } from '../app/screen-pops';
import { CallEventReplay } from '../app/replay';
import { createRateLimiter } from '../adapters/ratelimit';
import { buildWebdialSchema } from '../graphql/schema';
import type { ApiServices, PeopleServices } from '../graphql/context';
import { startHttp, type RunningHttp } from './http';
import { publicAsset } from './cors';
import { seedDemo, type DemoSeed } from './demo';
import { startWebhooks } from '../webhooks/worker';
import { registerPipelineLag } from '../observability/pipeline-lag';
import type { RateRules } from '../ports/rate-limit';
import { createPages } from './pages';
import { DependencyMonitor } from './dependencies';
import { isConnectionError, unavailableDependency, type Dependency } from '../ports/dependency';

export interface Webdial {
  url: string;
  port: number;
  adminKey: string;
  adminKeyCreated: boolean;
  demo: DemoSeed | null;
  store: EventStore;
  services: ApiServices;
  metrics: Metrics;
  /** Called after a projection committed an event: (projection, event, ms from append to commit). */
  onProjected: Set<(projection: string, event: StoredEvent, lagMs: number) => void>;
  /** Resolves once every projection has applied everything stored so far (tests, demo, bench). */
  settle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The one composition root: configuration → adapters → handlers → API. Everything that has a
 * lifecycle is started here and stopped in reverse order.
 */
export const startWebdial = async (config: Config, logger: Logger, clock: Clock = systemClock): Promise<Webdial> => {
  makePrivate(config.dataDir);
  const metrics = createMetrics();
  const admin = persistentSecret(config.dataDir, 'admin.key', config.adminKey, newAdminKey);
  const tokenSecret = persistentSecret(config.dataDir, 'token.secret', config.tokenSecret, newTokenSecret);
  // First: with SQLite, a second process on this data directory stops here (SINGLE_INSTANCE).
  const membership = joinCluster(config, logger);

  // Every dependency error the server survives goes through the monitor (metric, rate-limited log,
  // probing until it is back); /readyz asks it too. Its pings are filled in as the adapters open.
  const pings: Partial<Record<Dependency, () => Promise<void>>> = {};
  const monitor = new DependencyMonitor(logger, metrics, pings);
  /**
   * For the store's followers (relay, live state, supervisor, hub): a failed read, retried by its
   * owner, goes to the monitor; anything else (an event it cannot read, skipped) is logged as an error.
   */
  const storeError = (where: string) => (e: unknown) =>
    isConnectionError(e) ? monitor.failed(unavailableDependency(e) ?? 'eventStore', e, where) : logger.error({ err: e }, `${where}: ${(e as Error).message}`);

  const store = await createEventStore({
    kind: config.eventStore,
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl ?? undefined,
    kurrentDbUrl: config.kurrentDbUrl ?? undefined,
    onConnectionError: (e, where) => monitor.failed('eventStore', e, `connection (${where})`),
  });
  pings.eventStore = () => store.ping();
  const readModels = await openReadModels({ kind: config.readDb, dataDir: config.dataDir, databaseUrl: config.readDatabaseUrl ?? undefined, logger });
  // The SQLite files (and their -wal/-shm) exist now: 600, like the secrets beside them.
  makePrivate(config.dataDir);
  pings.readModels = () => readModels.ping();
  let stopping = false;
  const bus: EventBus = config.bus === 'kafka' ? await kafkaBus(config, logger, metrics, readModels, monitor, () => stopping) : new MemoryBus(store);
  pings.bus = () => bus.ping();

  const startHead = await store.headPosition();
  const handler = new CommandHandler(store, randomIds);
  // Every process that follows events or keeps time is a row of a table (./app/processes.ts): each
  // instance runs its `instance` rows, and the `cluster` rows run on whichever instance holds their
  // lease (./app/cluster.ts).
  const cluster = new Cluster(membership.leases, {
    pollMs: config.cluster.pollMs,
    onError: (e, job) => (isConnectionError(e) ? monitor.failed(unavailableDependency(e) ?? 'eventStore', e, `cluster job ${job}`) : logger.error({ err: e, job }, `cluster job ${job} did not start; trying again`)),
    onRole: (job, owner) => {
      metrics.clusterRole.set({ role: job }, owner ? 1 : 0);
      if (owner) metrics.clusterTakeovers.inc({ role: job });
      logger.info({ job, instance: membership.leases.holder }, owner ? `cluster: this instance runs ${job}` : `cluster: this instance stopped running ${job}`);
    },
  });
  const processes = new Processes(cluster);
  const live = new LiveState(store, storeError('live state'));
  // The live index first: the media (wired next) may report a call as soon as it starts.
  await processes.start([{ name: 'live state', scope: 'instance', start: async () => (await live.start(), live) }]);
  const hub = new EventHub(store, (e, where) => storeError(where)(e));
  const tokens = new CallTokens(Buffer.from(tokenSecret.value), config.callTokenTtlSeconds);

  const { calls, media, sink, supervisor, effects, capacity, board, dispatcher, scheduler, secondLegs } = await wireCalls({ config, store, handler, live, tokens, clock, logger, monitor, storeError, callbackReads: readModels.queries });
  const readProgress = new ReadSideProgress(() => readModels.lowestCheckpoint(), (p) => store.isPosition(p), { maxWaitMs: config.limits.readWaitMs });
  const adminService = new AdminService(handler, live, clock, randomIds, {
    callCenterOwner: (id) => readModels.queries.callCenterOwner(id),
    caughtUp: async () => {
      const head = await store.headPosition();
      if (head !== null) await readProgress.waitFor(head);
    },
  });

  const onProjected = new Set<(projection: string, event: StoredEvent, lagMs: number) => void>();
  // The read side: one consumer group applying each batch to every projection (./app/read-side.ts).
  const projections = await projectionsProcess({
    bus,
    readModels,
    group: `${config.kafkaTopicPrefix}webdial.projections`,
    // PostgreSQL takes concurrent transactions (rows of different streams, shared locks): six
    // partitions' batches at once. SQLite has one writer: one at a time.
    concurrency: config.readDb === 'postgres' ? 6 : 1,
    observer: {
      applied: (outcomes, batch, now) => {
        for (const [name, outcome] of outcomes) {
          if (outcome.blocked.length) metrics.blockedStreams.inc({ projection: name }, outcome.blocked.length);
          if (outcome.deadLettered.length) metrics.deadLetters.inc({ consumer: name }, outcome.deadLettered.length);
          for (const { event, lagMs } of lagsOf(outcome, now)) for (const f of onProjected) f(name, event, lagMs);
          const newest = outcome.applied.at(-1);
          if (newest) metrics.projectionLag.set({ projection: name }, Math.max(0, now - Date.parse(newest.recordedAt)) / 1000);
        }
        metrics.projectionBatch.observe(batch.events.length);
        readProgress.advanced();
      },
      retry: (err, attempt, batch) => {
        metrics.consumerRetries.inc({ consumer: 'projections' });
        // applyAll throws only what it could not write (what a view refuses is dead-lettered inside).
        if (isConnectionError(err)) monitor.failed(unavailableDependency(err) ?? 'readModels', err, 'projections');
        // Anything else (a constraint, a bug): one line on the first failure and then every tenth.
        else if (attempt === 1 || attempt % 10 === 0)
          logger.warn({ err, attempt, source: batch.source, events: batch.events.length }, `projections: batch failed (attempt ${attempt}); retrying, nothing is skipped`);
      },
    },
  });
  // Webhooks for CRMs: one consumer group for all instances (checkpointed), an outbox, a sender.
  const webhooks = await startWebhooks(
    {
      store,
      bus,
      handler,
      clock,
      ids: randomIds,
      serverSecret: Buffer.from(tokenSecret.value),
      readDb: { kind: config.readDb, dataDir: config.dataDir, databaseUrl: config.readDatabaseUrl ?? undefined },
      group: `${config.kafkaTopicPrefix}webdial.webhooks`,
      logger,
      metrics: metrics.registry,
      assertMerchant: async (merchantId) => void (await adminService.merchant(merchantId)),
    },
    config.webhooks,
  );
  let relay: Relay | null = null;
  // Store → bus. With Kafka, a cluster process: one relay publishes each event once, from the
  // lease's (fenced) checkpoint. The in-process bus belongs to its process, so every instance runs
  // its own relay, from the head as it was before anything below the store started (its groups
  // catch up from the store themselves; a timeout fired since is published).
  const startRelay = async (lease: Lease | null) => {
    const checkpoints = lease ? leaseCheckpoints(lease, (e) => logger.warn({ err: e }, 'relay: saving its checkpoint failed; retrying with the next publish')) : noCheckpoints;
    const r = new Relay(store, bus, checkpoints, 'relay', (e, where) => {
      if (where === 'store') storeError('relay')(e);
      else if (where === 'bus') monitor.failed('bus', e, 'relay');
      else logger.warn({ err: e }, 'relay: saving its checkpoint failed; retrying with the next publish');
    }, lease ? bus.publisher('relay') : null);
    await r.start(lease ? {} : { after: startHead, scope: 'instance' });
    relay = r;
    return r;
  };
  const kafka = config.bus === 'kafka';
  // The table of processes, started in this order (the live index is already running, above).
  await processes.start([
    // The calls' deadlines, folded from a snapshot plus the tail (the timers that fire them are a cluster row).
    { name: 'call supervisor', scope: 'instance', start: async () => (await supervisor.start(), supervisor) },
    // The call centers' queues and handle times (issue 25), folded from a snapshot plus the tail: initiation's hints, the dispatcher's triggers.
    { name: 'queue board', scope: 'instance', start: async () => (await board.start(), board) },
    projections,
    { name: 'relay', scope: kafka ? 'cluster' : 'instance', start: startRelay },
    // What an ended call holds, released (ports, slots), from the lease's checkpoint.
    {
      name: 'call-effects',
      scope: 'cluster',
      start: async (lease: Lease | null) => {
        const e = effects(leaseCheckpoints(lease!, (err) => logger.warn({ err }, 'call effects: saving the checkpoint failed; retrying')));
        await e.start();
        return e;
      },
    },
    // The calls' deadlines (no answer, abandoned, maximum duration, the DTMF inter-digit timeout).
    { name: 'timers', scope: 'cluster', start: () => supervisor.startTimers() },
    // The queues' heads placed as slots free, abandoned and timed-out waits recorded (issue 25).
    { name: 'queue-dispatcher', scope: 'cluster', start: () => dispatcher.start() },
    // Callbacks' tries placed when due, the shopper dialled once an agent answers, each try's outcome recorded (issue 25).
    {
      name: 'callback-scheduler',
      scope: 'cluster',
      start: (lease: Lease | null) => scheduler.start(leaseCheckpoints(lease!, (err) => logger.warn({ err }, 'callback scheduler: saving the checkpoint failed; retrying'))),
    },
    // CRMs' webhooks: planning deliveries from the bus into the outbox, and sending them (the
    // in-process bus is its instance's own: each instance plans what it relays).
    { name: 'webhooks', scope: kafka ? 'cluster' : 'instance', start: () => webhooks.startWork() },
    // GraphQL subscriptions: fed from the bus, one consumer group per server instance.
    { name: 'subscriptions hub', scope: 'instance', start: async () => (await hub.start({ bus, group: `${config.kafkaTopicPrefix}webdial.api` }), hub) },
    // What this instance sees stored from now on, counted by type (every instance counts the cluster's appends).
    {
      name: 'metrics',
      scope: 'instance',
      start: () => follow(store, { name: 'metrics', scope: 'instance', checkpoint: { from: 'head' }, handle: (e) => void metrics.eventsAppended.inc({ type: e.type }), onError: storeError('metrics') }),
    },
  ]);
  registerPipelineLag(metrics.registry, store, clock, {
    relay: () => relay?.position ?? null,
    projections: () => Promise.all(readModels.projections.map(async (p) => ({ name: p.name, position: await readModels.checkpoint(p.name) }))),
  });

  const limiter = await createRateLimiter({
    redisUrl: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    rules: rateRules(config.limits),
    metrics: metrics.registry,
    logger,
    // Degraded, not down: each hit Redis could not decide is counted; /readyz lists it under `degraded`.
    onFallback: (rule) => monitor.failed('redis', new Error(`unreachable: the ${rule} limit is enforced by this instance alone`), 'rate limits'),
    onRecovered: () => monitor.recovered('redis'),
  });
  // Issue 23: the inbound trunk lists the assigned DIDs (LiveKit media with the carrier's addresses set).
  const inboundSync =
    config.media === 'livekit' && config.livekit.inboundAllowedAddresses.length > 0
      ? createInboundNumberSync(new SipClient(config.livekit.url!, config.livekit.apiKey!, config.livekit.apiSecret!), { name: 'webdial-inbound', allowedAddresses: config.livekit.inboundAllowedAddresses }, logger)
      : null;
  if (inboundSync) await inboundSync.start(await readModels.queries.allDidNumbers());
  const pages = createPages({ config, store, handler, calls, admin: adminService, media, capacity, secondLegs, readModels, clock, tokenSecret: tokenSecret.value, logger });
  const dids = new DidService(handler, clock, config.didBlocks, inboundSync ? (n, assigned) => inboundSync.changed(n, assigned) : undefined);
  // Issue 23: phone calls to our numbers, as the LiveKit webhook reports their arrival.
  const inbound = new InboundCalls(handler, calls.reader, dids, capacity, clock, (outcome, arrival, reason) => {
    metrics.inboundCalls.inc({ outcome });
    logger.info({ callId: arrival.callId, did: arrival.did, outcome, reason }, 'inbound call');
  });
  const services: ApiServices = {
    calls,
    admin: adminService,
    dids,
    reads: readModels.queries,
    store,
    hub,
    screenPops: new ScreenPops({ hub, reads: readModels.queries, progress: readProgress, store, onError: (err, callId) => logger.warn({ err, callId }, 'screen pop: neither the read side nor the call stream answered') }),
    replay: new CallEventReplay({ store, hub, reads: readModels.queries }),
    queue: new QueueView({ board, hub, store, reader: calls.reader, onError: (err, what) => logger.warn({ err }, `queue view: ${what} failed`) }),
    auth: new ApiKeyAuthenticator(store, admin.value),
    tokens,
    limiter,
    webhooks: webhooks.service,
    clock,
    readProgress,
    people: pages.services,
    deadLetters: {
      list: (filter) => readModels.deadLetters(filter),
      replay: (id, merchantId) => readModels.replayDeadLetter(id, merchantId),
    },
  };

  const demo = config.demo ? await seedDemo(services, config.dataDir, logger) : null;
  const schema = await buildWebdialSchema();
  let http: RunningHttp;
  try {
    http = await startHttp(
      schema,
      services,
      {
        host: config.host,
        port: config.port,
        maxBodyBytes: config.limits.maxBodyBytes,
        introspection: config.limits.introspection,
        maxDepth: config.limits.maxQueryDepth,
        maxCost: config.limits.maxQueryCost,
        trustProxy: config.limits.trustProxy,
        ws: { maxConnectionsPerAddress: config.limits.maxConnectionsPerAddress, maxSubscriptionsPerConnection: config.limits.maxSubscriptionsPerConnection },
        routes: (app) => {
          mountStatic(app, () => demo);
          mountLiveKitWebhook(app, config, media, sink, calls, pages.services, inbound, logger);
          pages.mount(app, () => demo);
        },
        isWidgetOrigin: (origin) => live.allowedOrigins.has(origin),
        ready: () => monitor.readiness(),
        cluster: () => ({ instance: membership.leases.holder, roles: processes.roles() }),
        onUnavailable: (dependency, e) => monitor.failed(dependency ?? 'eventStore', e, 'request'),
      },
      logger,
      metrics,
    );
  } catch (e) {
    throw new Error(`PORT: cannot listen on ${config.host}:${config.port}: ${(e as Error).message}`);
  }

  const settle = (timeoutMs?: number) => settled(store, readModels, timeoutMs);

  return {
    url: http.url,
    port: http.port,
    adminKey: admin.value,
    adminKeyCreated: admin.created,
    demo,
    store,
    services,
    metrics,
    onProjected,
    settle,
    stop: async () => {
      // Every step runs even when an earlier one fails: a half-stopped server must not keep
      // consumers or timers alive. The first failure is reported after all steps ran.
      const failures: unknown[] = [];
      const step = async (name: string, fn: () => Promise<unknown>) => {
        const t0 = performance.now();
        try {
          await fn();
          // A slow step is named: a rolling restart waits on the slowest.
          const took = performance.now() - t0;
          if (took >= 500) logger[took >= 2000 ? 'warn' : 'info']({ step: name, ms: Math.round(took) }, `shutdown: ${name} took ${Math.round(took)} ms`);
        } catch (e) {
          logger.error({ err: e, step: name }, `shutdown: ${name} failed`);
          failures.push(e);
        }
      };
      stopping = true;
      monitor.close();
      await step('http', () => http.stop());
      // The cluster processes stop and their leases are released (another instance takes them at
      // once); then the instance ones, the last started first (the live index last).
      await processes.stop(step);
      await step('leases', () => membership.close());
      await step('media', () => media.close());
      await step('webhooks', () => webhooks.stop());
      await step('bus', () => bus.close());
      await step('rate limiter', () => limiter.close());
      await step('read models', () => readModels.close());
      await step('event store', () => store.close());
      if (failures.length > 0) throw failures[0];
    },
  };
};

/**
 * GET /widget.js (the loader: the call button), /widget/* (the call client it imports on the first
 * click, built by `npm run build:widget`) and GET /demo (a shop page with the demo merchant's button).
 */
const mountStatic = (app: import('express').Express, demo: () => DemoSeed | null) => {
  const dir = join(__dirname, '..', '..', '..', 'public');
  const widget = join(__dirname, '..', '..', 'web', 'widget');
  app.get('/widget.js', publicAsset, (_req, res) => {
    res.type('application/javascript').sendFile(join(widget, 'widget.js'));
  });
  app.use('/widget', publicAsset, express.static(widget, { index: false, fallthrough: false }));
  app.get('/demo', (_req, res) => {
    const seed = demo();
    if (!seed) {
      res.status(404).send('demo data is off (WEBDIAL_DEMO=0)');
      return;
    }
    res.type('html').send(readFileSync(join(dir, 'demo.html'), 'utf8').replace('__MERCHANT__', seed.merchantId).replace('__LINK__', seed.linkId));
  });
};

/**
 * POST /webhooks/livekit: verified over the raw body (the JWT's sha256 claim covers the exact bytes),
 * Authorization is the raw JWT. The caller's browser leaving ends the call like a hang-up, and so
 * does the console of the agent who answered a browser call (the agent's hang-up).
 */
const mountLiveKitWebhook = (app: import('express').Express, config: Config, media: MediaGateway, sink: CallProgressSink, calls: CallUseCases, people: Pick<PeopleServices, 'agents' | 'transfers'>, inbound: InboundCallSink, logger: Logger) => {
  if (config.media !== 'livekit') {
    app.post('/webhooks/livekit', (_req, res) => {
      res.status(404).type('text/plain').send('LiveKit media is not enabled (WEBDIAL_MEDIA=livekit)');
    });
    return;
  }
  const hook = createLiveKitWebhookHandler({
    apiKey: config.livekit.apiKey!,
    apiSecret: config.livekit.apiSecret!,
    sink,
    logger,
    onCallerLeft: (callId) => calls.caller.left(callId, randomUUID()),
    // The holder's console leaving ends the call; a colleague's, consulted in a warm transfer, declines it (issue 25).
    onAgentLeft: async (callId, agentId) => (await people.agents.leftRoom(callId, agentId, randomUUID())) || people.transfers.agentLeft(callId, agentId, randomUUID()),
    // A colleague joining a warm transfer's consultation stops hearing the caller on hold (issue 25).
    onAgentJoined: (callId, agentId) => people.transfers.agentJoined(callId, agentId),
    isTracking: (callId) => (media as LiveKitMedia).isTracking(callId),
    // Issue 23: a phone call to one of our numbers, as its caller joins the room the dispatch rule made.
    inbound,
    inboundMedia: media as LiveKitMedia,
  });
  app.post('/webhooks/livekit', express.raw({ type: '*/*', limit: '1mb' }), async (req, res) => {
    const r = await hook(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '', req.header('authorization'));
    res.status(r.status).type('text/plain').send(r.body);
  });
};

/** Widget limits per minute: downloads per client and per merchant; the other widget operations (a few per call) per client. */
const rateRules = (l: Config['limits']): RateRules => ({
  'download-per-client': { points: l.downloadsPerMinutePerClient, durationSeconds: 60 },
  'download-per-merchant': { points: l.downloadsPerMinutePerMerchant, durationSeconds: 60 },
  'widget-per-client': { points: l.downloadsPerMinutePerClient * 5, durationSeconds: 60 },
  // A console opens a few subscriptions, a widget one: reconnect storms are what this bounds.
  'subscribe-per-client': { points: l.downloadsPerMinutePerClient * 5, durationSeconds: 60 },
});

const kafkaBus = (config: Config, logger: Logger, metrics: Metrics, readModels: ReadModels, monitor: DependencyMonitor, stopping: () => boolean): Promise<EventBus> =>
  createKafkaBus({
    brokers: config.kafkaBrokers,
    clientId: `webdial-${process.pid}`,
    partitions: config.kafkaPartitions,
    topicPrefix: config.kafkaTopicPrefix,
    logger,
    onError: (e, where) => monitor.failed('bus', e, where),
    // A message no one can decode: kept in the dead-letter topic and listed with the others. The
    // read database may be away at that moment: the record is retried until it is written.
    onDeadLetter: (d) => {
      metrics.deadLetters.inc({ consumer: d.group });
      void recordUndecodable(readModels, d, {
        stopping,
        onError: (err, attempt) => {
          if (attempt === 1) logger.error({ err, origin: d.origin }, 'dead letter not recorded in the read database yet (it is in the dead-letter topic); retrying');
          monitor.failed('readModels', err, 'dead letter record');
        },
      });
    },
  });
