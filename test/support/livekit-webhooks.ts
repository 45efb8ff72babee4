import { createServer } from 'node:http';
import type { WebhookResponse } from '../../src/media/livekit/webhooks';

/**
 * A webhook handler of webhooks.ts mounted on a plain node:http server with a raw body, on the port
 * the real livekit-server posts its webhooks to (`RealLiveKit.webhookPort`); `close` frees it.
 */
export const listenForLiveKitWebhooks = async (port: number, handler: (rawBody: string, authorization: string | undefined) => Promise<WebhookResponse>): Promise<{ close(): Promise<void> }> => {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handler(Buffer.concat(chunks).toString('utf8'), req.headers.authorization).then((r) => res.writeHead(r.status).end(r.body)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
};
