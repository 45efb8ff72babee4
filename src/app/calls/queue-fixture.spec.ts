/**
 * The queue specs' instance (queue.spec.ts, queue-view.spec.ts): a spec file without tests, so that
 * it may wire the real in-process adapters as specs do.
 */
import type { EventStore } from '../../ports/event-store';
import { ExternalMedia } from '../../media/external';
import { CommandHandler } from '../command-handler';
import { LiveState } from '../live-state';
import { CallTokens } from '../call-token';
import { randomIds } from '../ids';
import { Capacity } from './capacity';
import { CallReader } from './reader';
import { CallDownloads } from './download';
import { CallInitiation } from './initiation';
import { CallEnding } from './terminate';
import { QueueBoard, QueueDispatcher } from './queue';

/** One instance: its handler (own cache), live index, capacity, initiation, queue board and dispatcher, on a shared store. */
export const instance = async (store: EventStore, clock: { now: () => Date }) => {
  const handler = new CommandHandler(store, randomIds);
  const live = new LiveState(store);
  await live.start();
  const reader = new CallReader(handler);
  const media = new ExternalMedia();
  const tokens = new CallTokens(Buffer.alloc(32, 7), 3600);
  const capacity = new Capacity(handler, live, clock, { aniQuarantineSeconds: 0 });
  const board = new QueueBoard(store);
  await board.start();
  const downloads = new CallDownloads(handler, reader, media, tokens, clock, randomIds, { maxContextBytes: 8192 });
  const initiation = new CallInitiation(handler, reader, capacity, media, tokens, clock, { ringingTimeoutSeconds: 30, maxCallDurationSeconds: 3600 }, board);
  const ending = new CallEnding(handler, capacity, clock);
  const errors: string[] = [];
  const dispatcher = new QueueDispatcher({ board, handler, reader, capacity, initiation, ending, media, clock, onError: (e, what) => void errors.push(`${what}: ${(e as Error).message}`), tickMs: 20 });
  const download = () => downloads.record({ merchantId: 'm1', linkId: 'l1', pageUrl: 'https://shop.example/p', referrer: null, customerId: null, sessionId: null, callerRegion: null, context: null }, 'c-1');
  const hangUp = (callId: string) => ending.end(callId, { cause: 'HANGUP', by: 'CALLER', sipStatus: null, gatewayEventId: null }, { correlationId: 'c-1', causationId: null });
  return { handler, live, board, initiation, dispatcher, download, hangUp, errors, stop: async () => (await board.stop(), await live.stop()) };
};


/** Polls `check` every 5 ms until it holds; throws "not in time: <what>" after `ms`. */
export const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not in time: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};
