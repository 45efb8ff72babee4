import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startLiveKitDouble, type LiveKitDouble } from '../support/livekit-double';
import type { CallProgressSink } from '../../src/ports/media';
import { createLiveKitWebhookHandler } from '../../src/media/livekit/webhooks';
import { DomainError } from '../../src/domain/shared/errors';

/**
 * The webhook handler mounted on a plain node:http server with a raw body, receiving webhooks
 * the double signs exactly as LiveKit does (JWT, `sha256` claim over the body, iss = API key).
 */
describe('LiveKit webhooks', () => {
  let lk: LiveKitDouble;
  let server: Server;
  let endpoint: string;
  let calls: unknown[][];
  let callerLeft: string[];
  let agentLeft: string[];
  /** Calls whose answering agent (key id) is known, as AgentService.leftRoom decides. */
  const answeredBy = new Map<string, string>();
  let logLines: string[];
  const tracked = new Set<string>();

  before(async () => {
    lk = await startLiveKitDouble();
    const sink: CallProgressSink = {
      ringing: async (...a) => void calls.push(['ringing', ...a]),
      answered: async (...a) => void calls.push(['answered', ...a]),
      dtmf: async (...a) => void calls.push(['dtmf', ...a]),
      terminated: async (...a) => {
        // As the call reader does for a call id it has no stream for.
        if (String(a[0]).startsWith('gone')) throw new DomainError('NOT_FOUND', `call ${a[0]} not found`);
        calls.push(['terminated', ...a]);
      },
    };
    const log = (_o: object, msg?: string) => void logLines.push(msg ?? '');
    const handler = createLiveKitWebhookHandler({
      apiKey: lk.apiKey,
      apiSecret: lk.apiSecret,
      sink,
      logger: { info: log, warn: log, error: log },
      onCallerLeft: async (callId) => void callerLeft.push(callId),
      onAgentLeft: async (callId, agentId) => {
        agentLeft.push(`${callId}/${agentId}`);
        return answeredBy.get(callId) === agentId;
      },
      isTracking: (callId) => tracked.has(callId),
    });
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void handler(Buffer.concat(chunks).toString('utf8'), req.headers.authorization).then(({ status, body }) => {
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(body);
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/livekit`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await lk.close();
  });
  beforeEach(() => {
    calls = [];
    callerLeft = [];
    agentLeft = [];
    logLines = [];
  });

  const sipLeft = (callId: string, disconnectReason: string, id?: string) =>
    lk.webhookBody('participant_left', `call-${callId}`, { identity: `pstn-${callId}`, kind: 'SIP', disconnectReason, attributes: { callId, 'sip.callStatus': 'ringing' } }, id);

  it('a verified participant_left of the SIP leg terminates the call with the mapped cause', async () => {
    const res = await lk.postWebhook(endpoint, sipLeft('w1', 'USER_UNAVAILABLE'));
    assert.deepEqual(res, { status: 200, body: 'terminated' });
    assert.deepEqual(calls, [['terminated', 'w1', 'NO_ANSWER', null, 'lk:w1:terminated', null]]);
    await lk.postWebhook(endpoint, sipLeft('w2', 'CLIENT_INITIATED'));
    assert.deepEqual(calls[1], ['terminated', 'w2', 'HANGUP', null, 'lk:w2:terminated', null]);
  });

  it('the caller leaving calls onCallerLeft; our own agent leaving and other events change nothing', async () => {
    const caller = lk.webhookBody('participant_left', 'call-w3', { identity: 'caller-w3', disconnectReason: 'CLIENT_INITIATED' });
    assert.deepEqual(await lk.postWebhook(endpoint, caller), { status: 200, body: 'caller-left' });
    assert.deepEqual(callerLeft, ['w3']);
    await lk.postWebhook(endpoint, lk.webhookBody('participant_left', 'call-w3', { identity: 'webdial-w3', kind: 'AGENT' }));
    await lk.postWebhook(endpoint, lk.webhookBody('participant_joined', 'call-w3', { identity: 'pstn-w3', kind: 'SIP' }));
    await lk.postWebhook(endpoint, lk.webhookBody('participant_left', 'some-other-room', { identity: 'x' }));
    assert.deepEqual(calls, []);
    assert.deepEqual(callerLeft, ['w3']);
  });

  it("an agent's console leaving a browser call's room calls onAgentLeft with the key id; a repeat is a duplicate", async () => {
    answeredBy.set('b1', 'kAgent1');
    const left = lk.webhookBody('participant_left', 'call-b1', { identity: 'agent-kAgent1', kind: 'STANDARD', disconnectReason: 'CLIENT_INITIATED' }, 'EV_agent_b1');
    assert.deepEqual(await lk.postWebhook(endpoint, left), { status: 200, body: 'agent-left' });
    assert.deepEqual(await lk.postWebhook(endpoint, left), { status: 200, body: 'duplicate' });
    // Another agent's console (it never took the call) leaving: asked, and nothing to end.
    const other = lk.webhookBody('participant_left', 'call-b1', { identity: 'agent-kAgent2', disconnectReason: 'CLIENT_INITIATED' });
    assert.deepEqual(await lk.postWebhook(endpoint, other), { status: 200, body: 'agent-left: nothing to end' });
    assert.deepEqual(agentLeft, ['b1/kAgent1', 'b1/kAgent2']);
    assert.deepEqual([calls, callerLeft], [[], []]);
  });

  it('a browser dropped by our deletion of the room, or replaced by a newer connection of its identity, has not left', async () => {
    for (const identity of ['caller-b2', 'agent-kAgent1'])
      for (const disconnectReason of ['ROOM_DELETED', 'DUPLICATE_IDENTITY', 'MIGRATION'])
        assert.deepEqual(
          await lk.postWebhook(endpoint, lk.webhookBody('participant_left', 'call-b2', { identity, disconnectReason })),
          { status: 200, body: 'ignored' },
          `${identity} ${disconnectReason}`,
        );
    assert.deepEqual([calls, callerLeft, agentLeft], [[], [], []]);
  });

  it('a verified event about a call we do not know is acknowledged (200) and ignored, so LiveKit stops redelivering it', async () => {
    const res = await lk.postWebhook(endpoint, sipLeft('gone1', 'CLIENT_INITIATED'));
    assert.deepEqual(res, { status: 200, body: 'unknown call: ignored' });
    assert.deepEqual(calls, []);
  });

  it('leaves a leg that the media adapter follows to the adapter (it has the SIP status)', async () => {
    tracked.add('w6');
    assert.deepEqual(await lk.postWebhook(endpoint, sipLeft('w6', 'USER_REJECTED')), { status: 200, body: 'tracked' });
    assert.deepEqual(calls, []);
    tracked.delete('w6');
  });

  it('the caller dropped by our own room deletion is not a caller hang-up', async () => {
    const body = lk.webhookBody('participant_left', 'call-w7', { identity: 'caller-w7', disconnectReason: 'ROOM_DELETED' });
    assert.deepEqual(await lk.postWebhook(endpoint, body), { status: 200, body: 'ignored' });
    assert.deepEqual(callerLeft, []);
  });

  it('a repeated delivery (same event id) changes nothing', async () => {
    const body = sipLeft('w4', 'USER_REJECTED', 'EV_repeat');
    assert.deepEqual(await lk.postWebhook(endpoint, body), { status: 200, body: 'terminated' });
    assert.deepEqual(await lk.postWebhook(endpoint, body), { status: 200, body: 'duplicate' });
    assert.deepEqual(calls, [['terminated', 'w4', 'REJECTED', null, 'lk:w4:terminated', null]]);
  });

  it('refuses what it cannot verify with 401 and a log line, and changes nothing', async () => {
    const body = sipLeft('w5', 'USER_REJECTED');
    const refusals: [string, string | undefined][] = [
      ['wrong secret', lk.signWebhook(body, { secret: 'not-the-secret' })],
      ['wrong issuer', lk.signWebhook(body, { issuer: 'APIother' })],
      ['expired', lk.signWebhook(body, { expiresInSeconds: -60 })],
      ['signature of another body', lk.signWebhook(body.replace('USER_REJECTED', 'CLIENT_INITIATED'))],
      ['empty', ''],
    ];
    for (const [label, auth] of refusals) {
      const res = await lk.postWebhook(endpoint, body, auth);
      assert.equal(res.status, 401, label);
    }
    // Tampered body under the original signature.
    const tampered = await lk.postWebhook(endpoint, body.replace('USER_REJECTED', 'USER_UNAVAILABLE'), lk.signWebhook(body));
    assert.equal(tampered.status, 401);
    assert.deepEqual(calls, []);
    assert.equal(logLines.filter((l) => /refused/.test(l)).length, refusals.length + 1);
    // The same body, properly signed, still goes through: refusals did not mark it as seen.
    assert.equal((await lk.postWebhook(endpoint, body)).status, 200);
    assert.equal(calls.length, 1);
  });
});
