import { randomUUID } from 'node:crypto';
import type { Config } from './config';
import type { Logger } from './logger';
import type { DependencyMonitor } from './dependencies';
import { isConnectionError, reconnectDelayMs, unavailableDependency } from '../ports/dependency';
import type { EventStore } from '../ports/event-store';
import type { Clock } from '../ports/clock';
import type { CallProgressSink, MediaGateway } from '../ports/media';
import type { CommandHandler } from '../app/command-handler';
import type { LiveState } from '../app/live-state';
import type { CallTokens } from '../app/call-token';
import { randomIds } from '../app/ids';
import type { CallUseCases } from '../app/calls';
import { CallReader } from '../app/calls/reader';
import { Capacity } from '../app/calls/capacity';
import { CallDownloads } from '../app/calls/download';
import { CallInitiation } from '../app/calls/initiation';
import { CallerActions } from '../app/calls/caller';
import { GatewayReports } from '../app/calls/reports';
import { CallEnding } from '../app/calls/terminate';
import { CallSupervisor } from '../app/calls/supervisor';
import { CallEffects } from '../app/calls/effects';
import { QueueBoard, QueueDispatcher } from '../app/calls/queue';
import { CallbackBookings, type CallbackReads } from '../app/calls/callbacks';
import { CallbackScheduler, type DueCallbacks } from '../app/calls/callback-scheduler';
import { SecondLegs, type SecondLegHandler } from '../app/calls/second-legs';
import type { CheckpointStore } from '../ports/checkpoint';
import { CallCenterSimulator } from '../media/simulator/simulator';
import { ExternalMedia } from '../media/external';
import { createLiveKitMedia } from '../media/livekit/livekit-media';

export interface CallWiring {
  calls: CallUseCases;
  media: MediaGateway;
  /** How media adapters report the PSTN leg: the same use cases as the GATEWAY mutations. */
  sink: CallProgressSink;
  /** The call's timers (timeouts, DTMF deadline). */
  supervisor: CallSupervisor;
  /** Slots and ports (inbound calls take their slots through it too). */
  capacity: Capacity;
  /** The process manager that releases what ended calls hold, following the store from `checkpoints` (the `call-effects` cluster job). */
  effects: (checkpoints: CheckpointStore) => CallEffects;
  /** The queues as this instance folds them (issue 25): initiation's hints and estimates. */
  board: QueueBoard;
  /** The queues' dispatcher (the `queue-dispatcher` cluster job). */
  dispatcher: QueueDispatcher;
  /** Issue 25: the callbacks' tries placed and followed (the `callback-scheduler` cluster job). */
  scheduler: CallbackScheduler;
  /** Issue 25: who handles the progress of a call's second phone legs (a callback's shopper, a transfer's PSTN center), by kind. */
  secondLegs: SecondLegs;
}

/** The call's use cases, its media gateway, its timers and its process manager, wired (not started). */
export const wireCalls = async (deps: {
  config: Config;
  store: EventStore;
  handler: CommandHandler;
  live: LiveState;
  tokens: CallTokens;
  clock: Clock;
  logger: Logger;
  /** Where the dependency errors the calls survive are counted (the store away, LiveKit unreachable). */
  monitor: DependencyMonitor;
  /** For the store subscriptions of `where`: a failed read (retried) or an event it cannot read (skipped). */
  storeError: (where: string) => (e: unknown) => void;
  /** The callbacks read model (issue 25): the recent bookings a booking's hourly limit counts. */
  callbackReads: CallbackReads & DueCallbacks;
}): Promise<CallWiring> => {
  const { config, store, handler, live, tokens, clock, logger, monitor } = deps;
  /** The store away: counted by the monitor (the caller retries). */
  const storeAway = (e: unknown, where: string): boolean => {
    if (!isConnectionError(e)) return false;
    monitor.failed(unavailableDependency(e) ?? 'eventStore', e, where);
    return true;
  };
  const reader = new CallReader(handler);
  const capacity = new Capacity(handler, live, clock, { aniQuarantineSeconds: config.timeouts.aniQuarantineSeconds });
  const ending = new CallEnding(handler, capacity, clock);
  const reports = new GatewayReports(handler, reader, clock, ending);
  // A report that meets the store away is tried again (for about two minutes): a hang-up reported
  // during a database restart must still end the call. Gateway event ids make a repeat harmless.
  const reported = async (what: string, report: () => Promise<unknown>): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await report();
        return;
      } catch (e) {
        if (attempt >= 30 || !storeAway(e, `media report (${what})`)) throw e;
        await new Promise((r) => setTimeout(r, reconnectDelayMs(attempt)));
      }
    }
  };
  // A call's second phone legs (issue 25) report under their own ids: see second-legs.ts.
  const secondLegs = new SecondLegs();
  /** Runs a second leg's report with its handler; false for a call's own leg. */
  const asSecondLeg = async (id: string, what: keyof SecondLegHandler, run: (h: SecondLegHandler, callId: string, leg: string) => Promise<void> | undefined): Promise<boolean> => {
    const routed = secondLegs.route(id);
    if (routed === null) return false;
    const { callId, leg, handler } = routed;
    if (handler === null) logger.warn({ callId, leg, what }, 'a second leg of no known kind reported: dropped');
    else await reported(`${what} (leg ${leg})`, async () => run(handler, callId, leg));
    return true;
  };
  const sink: CallProgressSink = {
    ringing: async (callId, id) => {
      if (!(await asSecondLeg(callId, 'ringing', (h, c, leg) => h.ringing?.(c, leg, id)))) await reported('ringing', () => reports.ringing(callId, id, randomUUID()));
    },
    // A call's own leg answering is its callee's answer (a PSTN center's callback try: the center's agent);
    // a callback's shopper is always its second leg `.shopper` (issue 25).
    answered: async (callId, id) => {
      if (!(await asSecondLeg(callId, 'answered', (h, c, leg) => h.answered(c, leg, id)))) await reported('answered', () => reports.answered(callId, id, randomUUID()));
    },
    dtmf: async (callId, digits, id) => {
      if (!(await asSecondLeg(callId, 'dtmf', (h, c, leg) => h.dtmf?.(c, leg, digits, id)))) await reported('dtmf', () => reports.dtmf(callId, digits, id, randomUUID()));
    },
    terminated: async (callId, cause, sip, id, reason) => {
      if (!(await asSecondLeg(callId, 'terminated', (h, c, leg) => h.terminated(c, leg, cause, sip, id, reason ?? null))))
        await reported('terminated', () => reports.terminated(callId, cause, sip, id, randomUUID(), reason ?? null));
    },
  };
  const media = await createMedia(config, sink, logger, (e, where) => monitor.failed('media', e, `LiveKit ${where}`));
  const board = new QueueBoard(store, deps.storeError('queue board'));
  const initiation = new CallInitiation(
    handler,
    reader,
    capacity,
    media,
    tokens,
    clock,
    { ringingTimeoutSeconds: config.timeouts.ringingTimeoutSeconds, maxCallDurationSeconds: config.timeouts.maxCallDurationSeconds },
    board,
  );
  const calls: CallUseCases = {
    downloads: new CallDownloads(handler, reader, media, tokens, clock, randomIds, { maxContextBytes: 8 * 1024 }),
    initiation,
    caller: new CallerActions(handler, reader, media, tokens, clock, ending),
    reports,
    reader,
    callbacks: new CallbackBookings(handler, reader, tokens, deps.callbackReads, clock, { media, ending }),
  };
  const supervisor = new CallSupervisor(
    store,
    handler,
    reader,
    ending,
    media,
    clock,
    {
      abandonAfterMs: config.timeouts.abandonAfterSeconds * 1000,
      ringingTimeoutMs: config.timeouts.ringingTimeoutSeconds * 1000,
      maxDurationMs: config.timeouts.maxCallDurationSeconds * 1000,
    },
    (err, callId) => {
      // The store away: counted; the deadline is tried again on the next tick.
      if (!storeAway(err, 'call supervisor')) logger.warn({ err, callId }, 'call supervisor: a timeout or a DTMF recognition was refused');
    },
    1000,
    deps.storeError('call supervisor'),
    (callId) => board.waitingIn(callId) !== null,
  );
  const dispatcher = new QueueDispatcher({
    board,
    handler,
    reader,
    capacity,
    initiation,
    ending,
    media,
    clock,
    onError: (err, what) => {
      if (!storeAway(err, 'queue dispatcher')) logger.warn({ err }, `queue dispatcher: ${what} failed`);
    },
  });
  const scheduler: CallbackScheduler = new CallbackScheduler({
    handler,
    store,
    reader,
    capacity,
    ending,
    media,
    clock,
    due: deps.callbackReads,
    options: { ringingTimeoutSeconds: config.timeouts.ringingTimeoutSeconds, maxCallDurationSeconds: config.timeouts.maxCallDurationSeconds },
    onError: (err, what) => {
      if (!storeAway(err, 'callback scheduler')) logger.warn({ err }, `callback scheduler: ${what} failed`);
    },
  });
  // A callback try dials the shopper as its second leg (issue 25): its answer makes the
  // callback DONE; its end (busy, no answer, failed before the answer; the shopper's hang-up after) ends the call.
  secondLegs.register('shopper', {
    answered: (callId) => scheduler.phoneAnswered(callId, randomUUID()),
    terminated: (callId, _leg, cause, sipStatus, _id, reason) => scheduler.shopperLegEnded(callId, cause, sipStatus, reason, randomUUID()),
  });
  // Follows the store from the checkpoint of its lease.
  const effects = (checkpoints: CheckpointStore) => new CallEffects({
    store,
    checkpoints,
    handler,
    capacity,
    live,
    onRefused: (err, callId) => logger.warn({ err, callId }, 'call effects: a release was refused'),
    onRetry: (err, attempt, callId) => {
      if (!storeAway(err, 'call effects') && (attempt === 1 || attempt % 10 === 0))
        logger.warn({ err, attempt, callId }, `call effects: releasing what an ended call holds failed (attempt ${attempt}); retrying`);
    },
    onStoreError: deps.storeError('call effects'),
  });
  return { calls, media, sink, supervisor, effects, capacity, board, dispatcher, scheduler, secondLegs };
};

const createMedia = async (config: Config, sink: CallProgressSink, logger: Logger, onUnreachable: (e: unknown, where: string) => void): Promise<MediaGateway> => {
  switch (config.media) {
    case 'simulator':
      return new CallCenterSimulator(config.simulator, sink, (callId, e) => logger.warn({ callId, err: e }, 'simulator report refused'));
    case 'external':
      return new ExternalMedia();
    case 'livekit': {
      return createLiveKitMedia(
        {
          url: config.livekit.url!,
          publicUrl: config.livekit.publicUrl ?? undefined,
          apiKey: config.livekit.apiKey!,
          apiSecret: config.livekit.apiSecret!,
          sipTrunkId: config.livekit.sipTrunkId ?? undefined,
          outboundTrunk: config.livekit.outboundTrunk ?? undefined,
          ringingTimeoutSeconds: config.timeouts.ringingTimeoutSeconds,
          maxDurationSeconds: config.timeouts.maxCallDurationSeconds,
          callerTokenTtlSeconds: 600,
        },
        sink,
        { logger, onUnreachable, logLevel: config.logLevel },
      );
    }
  }
};
