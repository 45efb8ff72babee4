import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request the receiver accepted (2xx) or refused, as it arrived. */
export interface Received {
  id: string;
  timestamp: number;
  signature: string;
  body: string;
  type: string;
  /** data.callId and data.sequence for call events; data.callId for screen pops. */
  callId: string;
  sequence: number | null;
  merchantId: string | null;
  status: number;
  at: number;
}

/**
 * A CRM's webhook endpoint over real HTTP on 127.0.0.1: it verifies every request with the
 * Standard Webhooks reference library (`standardwebhooks`) against the secrets it was given, answers
 * 2xx to a good one and 401 to a bad one, and records what arrived. It can go down (the port is
 * closed: connections are refused) and come back on the same port, answer a chosen status, or answer slowly.
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  readonly refused: Array<{ reason: string; headers: IncomingMessage['headers'] }> = [];
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private secrets: string[] = [];
  port = 0;
  /** Answer with this status instead of 204 (e.g. 503), without recording a delivery as accepted. */
  failWith: number | null = null;
  /** Wait this long before answering. */
  delayMs = 0;
  /** Called once per accepted delivery. */
  onReceive: ((r: Received) => void) | null = null;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  /** The secrets any of which must verify a request (several while a rotation's grace period runs). */
  trust(...secrets: string[]): void {
    this.secrets = secrets;
  }

  async start(port = this.port): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Down: stops listening and cuts open connections (the sender's keep-alive sockets too). */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** Accepted deliveries, one per webhook-id (the first arrival). */
  unique(): Received[] {
    const seen = new Map<string, Received>();
    for (const r of this.received) if (!seen.has(r.id)) seen.set(r.id, r);
    return [...seen.values()];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const headers = {
      'webhook-id': String(req.headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
    };
    const verified = this.secrets.some((secret) => {
      try {
        new Webhook(secret).verify(body, headers);
        return true;
      } catch {
        return false;
      }
    });
    if (!verified) {
      this.refused.push({ reason: 'signature', headers: req.headers });
      res.writeHead(401).end('bad signature');
      return;
    }
    const status = this.failWith ?? 204;
    const payload = JSON.parse(body) as { type: string; data: { callId: string; sequence?: number; merchantId?: string } };
    const r: Received = {
      id: headers['webhook-id'],
      timestamp: Number(headers['webhook-timestamp']),
      signature: headers['webhook-signature'],
      body,
      type: payload.type,
      callId: payload.data.callId,
      sequence: payload.data.sequence ?? null,
      merchantId: payload.data.merchantId ?? null,
      status,
      at: Date.now(),
    };
    if (status >= 200 && status < 300) {
      this.received.push(r);
      this.onReceive?.(r);
    }
    res.writeHead(status).end();
  }
}
