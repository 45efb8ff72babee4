import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenVerifier } from 'livekit-server-sdk';
import { liveKitAgentMedia, noAgentMedia } from './agent-media';
import { agentIdentityFor } from './room-events';

test("LiveKit: the agent's token joins the call's own room, with the agent's identity, microphone only", async () => {
  const media = liveKitAgentMedia({ publicUrl: 'wss://media.example', apiKey: 'APIkey', apiSecret: 'a-secret-of-at-least-32-characters!!', tokenTtlSeconds: 600 });
  const join = await media.joinDetails('c_42', 'kAgent1');
  assert.deepEqual([join.provider, join.url, join.room], ['livekit', 'wss://media.example', 'call-c_42']);
  const claims = await new TokenVerifier('APIkey', 'a-secret-of-at-least-32-characters!!').verify(join.token!);
  assert.equal(claims.sub, agentIdentityFor('kAgent1'));
  assert.equal(claims.video?.room, 'call-c_42');
  assert.equal(claims.video?.roomJoin, true);
  assert.equal(claims.video?.canPublishData, false);
  assert.deepEqual(claims.video?.canPublishSources, ['microphone']);
  assert.ok(claims.exp! - claims.nbf! <= 600);
});

test('simulator and external media: no room, and the mode is named', async () => {
  assert.deepEqual(await noAgentMedia('simulator').joinDetails('c_1', 'k'), { provider: 'simulator', url: null, token: null, room: null });
});
