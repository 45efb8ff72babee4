import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRtcRoomParticipant, disposeRtcNode } from './rtc-room-participant';

/**
 * What can be checked of the real rtc-node participant without a LiveKit server: its native
 * binary loads on this platform (glibc), it goes to LiveKit's signalling endpoint, and a server
 * that is not LiveKit makes connect() reject instead of hanging. The rest is verified only against
 * a real LiveKit (docs/livekit.md).
 */
describe('rtc-node room participant (no LiveKit server here)', () => {
  it('loads the native binary, asks for /rtc, and rejects a server that is not LiveKit', async () => {
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push((req.url ?? '').split('?')[0]!);
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const participant = createRtcRoomParticipant(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
      await assert.rejects(participant.connect('call-x', 'not.a.token'), /404|signal/i);
      await participant.disconnect(); // after a failed connect: a no-op, never a throw
      await assert.rejects(participant.publishDtmf(1, '1'), /not connected/);
      assert.ok(paths.some((p) => p.startsWith('/rtc')), `signalling requests: ${paths.join(', ')}`);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await disposeRtcNode(); // or the native side keeps the process alive
    }
  });
});
