import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { RoomServiceClient } from 'livekit-server-sdk';
import { recordingProgressSink } from '../support/progress-sink';
import { listenForLiveKitWebhooks } from '../support/livekit-webhooks';
import { realLiveKit, type RealLiveKit } from '../support/livekit-real';
import { serviceMissing } from '../support/services';
import { eventually } from '../support/server';
import { liveKitAgentMedia } from '../../src/media/livekit/agent-media';
import { createLiveKitMedia, type LiveKitMedia, type MediaLogger } from '../../src/media/livekit/livekit-media';
import { createLiveKitWebhookHandler } from '../../src/media/livekit/webhooks';
import { createRtcRoomParticipant, disposeRtcNode } from '../../src/media/livekit/rtc-room-participant';
import type { RoomParticipant } from '../../src/media/livekit/room-participant';

interface Hook {
  event: string;
  room?: string;
  identity?: string;
  kind?: string;
  disconnectReason?: string;
  outcome: string;
}

/**
 * A browser (PC-to-PC) call's room on the real livekit-server (`npm run livekit:start`), without
 * a SIP leg: what the server does and which webhooks it sends when the caller and the agent join and
 * leave, and what the adapter and the webhook handler make of it. The two browsers are rtc-node
 * participants holding the very tokens webdial gives the widget (`joinDetails`) and the console
 * (`agentMediaJoin`); test/browser/pc-to-pc.browser.ts runs the same with Chromium and webdial.
 */
describe('a browser call room on the real LiveKit', () => {
  let skipped = '';
  let lk: RealLiveKit;
  let rooms: RoomServiceClient;
  let media: LiveKitMedia;
  let webhooks: { close(): Promise<void> } | undefined;
  const hooks: Hook[] = [];
  const ended: string[] = [];
  const sinkCalls: unknown[][] = [];
  const joined: RoomParticipant[] = [];
  const skip = (t: TestContext) => serviceMissing(t, 'LiveKit', skipped);

  before(async () => {
    const found = await realLiveKit();
    if (typeof found === 'string') {
      skipped = found;
      return;
    }
    lk = found;
    rooms = new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret);
    const quiet = () => undefined;
    const logger: MediaLogger = { info: quiet, warn: quiet, error: quiet };
    const sink = recordingProgressSink(sinkCalls);
    media = createLiveKitMedia(
      { url: lk.url, publicUrl: lk.wsUrl, apiKey: lk.apiKey, apiSecret: lk.apiSecret, sipTrunkId: 'ST_unused', ringingTimeoutSeconds: 30, maxDurationSeconds: 600, callerTokenTtlSeconds: 120 },
      sink,
      { logger },
    );
    const handler = createLiveKitWebhookHandler({
      apiKey: lk.apiKey,
      apiSecret: lk.apiSecret,
      sink,
      // Every verified event, with what the handler made of it (its log line).
      logger: { ...logger, info: (o) => void hooks.push(o as Hook) },
      onCallerLeft: async (callId) => void ended.push(`caller ${callId}`),
      // As AgentService.leftRoom does for the agent who answered: ends the call.
      onAgentLeft: async (callId, agentId) => {
        ended.push(`agent ${agentId} ${callId}`);
        return true;
      },
    });
    // Where livekit-server posts its webhooks (the port webdial listens on in the voice tests).
    webhooks = await listenForLiveKitWebhooks(lk.webhookPort, handler);
  });

  after(async () => {
    for (const p of joined) await p.disconnect();
    await media?.close(); // also disposes rtc-node's native side
    await disposeRtcNode();
    await webhooks?.close();
  });

  const agents = () => liveKitAgentMedia({ publicUrl: lk.wsUrl, apiKey: lk.apiKey, apiSecret: lk.apiSecret, tokenTtlSeconds: 120 });
  const join = async (token: string): Promise<RoomParticipant> => {
    const p = createRtcRoomParticipant(lk.wsUrl);
    joined.push(p);
    await p.connect('', token);
    return p;
  };
  const roomOf = async (callId: string) => (await rooms.listRooms([`call-${callId}`]))[0] ?? null;
  const hooksOf = (callId: string) => hooks.filter((h) => h.room === `call-${callId}`);
  const left = (callId: string, identity: string) => hooksOf(callId).find((h) => h.event === 'participant_left' && h.identity === identity);
  const newCallId = () => `pc${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;

  test("the caller's join creates the room; no SIP participant; the agent leaving is reported with its key; hang-up deletes a room the adapter never dialled", { timeout: 60_000 }, async (t) => {
    if (skipped) return skip(t);
    const callId = newCallId();
    assert.equal(await roomOf(callId), null);
    const caller = await join((await media.joinDetails(callId)).token!);
    // LiveKit creates the room when the first participant joins (room.auto_create, on by default).
    const room = await eventually(() => roomOf(callId), 5000, 'the room created by the caller');
    assert.equal(room.name, `call-${callId}`);
    await eventually(async () => hooksOf(callId).some((h) => h.event === 'room_started'), 10_000, 'room_started');

    const agent = await join((await agents().joinDetails(callId, 'kAgent1')).token!);
    const people = await eventually(async () => {
      const ps = await rooms.listParticipants(`call-${callId}`);
      return ps.length === 2 ? ps : null;
    }, 5000, 'the caller and the agent in the room');
    assert.deepEqual(people.map((p) => p.identity).sort(), [`agent-kAgent1`, `caller-${callId}`]);
    assert.ok(people.every((p) => Number(p.kind) === 0), 'both are STANDARD participants: no SIP, no server-side agent');

    // The agent's console leaves (its page is closed; livekit-client sends a leave, as rtc-node does here).
    await agent.disconnect();
    const agentLeft = await eventually(async () => left(callId, 'agent-kAgent1'), 15_000, "the agent's participant_left");
    // kind STANDARD is protobuf's default, so the JSON has no kind at all.
    assert.deepEqual([agentLeft.kind, agentLeft.disconnectReason, agentLeft.outcome], [undefined, 'CLIENT_INITIATED', 'agent-left']);
    assert.deepEqual(ended, [`agent kAgent1 ${callId}`]);
    assert.ok(await roomOf(callId), 'the room stays while the caller is in it: LiveKit does not close it by itself');

    // The call has ended: the adapter deletes the room of a call it never dialled.
    assert.equal(media.isTracking(callId), false);
    await media.hangUp(callId);
    assert.equal(await roomOf(callId), null, 'the room is gone');
    const callerLeft = await eventually(async () => left(callId, `caller-${callId}`), 15_000, "the caller's participant_left");
    assert.deepEqual([callerLeft.disconnectReason, callerLeft.outcome], ['ROOM_DELETED', 'ignored']);
    await eventually(async () => hooksOf(callId).some((h) => h.event === 'room_finished'), 15_000, 'room_finished');
    await media.hangUp(callId); // again, on a room that is gone: harmless
    assert.deepEqual(ended, [`agent kAgent1 ${callId}`], 'the deletion ended nothing more');
    assert.deepEqual(sinkCalls, [], 'no progress report: there is no PSTN leg');
    // Everything the server sent about this room (delivery order is not promised, so sorted).
    assert.deepEqual(
      hooksOf(callId).map((h) => `${h.event} ${h.identity ?? ''} ${h.disconnectReason ?? ''}`.trim()).sort(),
      [
        `participant_joined agent-kAgent1`,
        `participant_joined caller-${callId}`,
        `participant_left agent-kAgent1 CLIENT_INITIATED`,
        `participant_left caller-${callId} ROOM_DELETED`,
        'room_finished',
        'room_started',
      ],
    );
    await caller.disconnect();
  });

  test("a second console of the same key takes over: the first one's leave is DUPLICATE_IDENTITY and ends nothing", { timeout: 60_000 }, async (t) => {
    if (skipped) return skip(t);
    const callId = newCallId();
    const before = ended.length;
    await join((await media.joinDetails(callId)).token!);
    await join((await agents().joinDetails(callId, 'kAgent2')).token!);
    const again = await join((await agents().joinDetails(callId, 'kAgent2')).token!);
    const replaced = await eventually(async () => left(callId, 'agent-kAgent2'), 15_000, "the first console's participant_left");
    assert.deepEqual([replaced.disconnectReason, replaced.outcome], ['DUPLICATE_IDENTITY', 'ignored']);
    assert.equal(ended.length, before, 'the call goes on');
    assert.deepEqual((await rooms.listParticipants(`call-${callId}`)).map((p) => p.identity).sort(), ['agent-kAgent2', `caller-${callId}`]);
    await again.disconnect();
    await eventually(async () => ended.includes(`agent kAgent2 ${callId}`), 15_000, 'the console that took over leaving');
    await media.hangUp(callId);
    assert.equal(await roomOf(callId), null);
  });
});
