import { signingSecrets } from '../domain/webhook/endpoint';
import { retryDelayMs, type RetryPolicy } from './backoff';
import type { Delivery, WebhookDeliveries } from './deliveries';
import type { Post } from './http-post';
import type { WebhookRegistry } from './registry';
import type { SecretSealer } from './sealed-secrets';
import { signWebhook } from './signature';

export interface SenderOptions {
  /** This instance's name in leases. */
  owner: string;
  /** Deliveries in flight at once (each to its own lane). */
  concurrency: number;
  timeoutMs: number;
  retry: RetryPolicy;
  /** A delivery (and an endpoint) failing for this long is given up on: FAILED (endpoint: FAILING). */
  failingAfterMs: number;
  /** How often to look for work other instances enqueued, at the longest. */
  pollMs: number;
}

export interface SenderObserver {
  attempt(outcome: 'delivered' | 'retry' | 'failed', endpointId: string): void;
  /** Seconds from the event's append to its 2xx. */
  delivered(seconds: number): void;
}

export interface SenderDeps {
  deliveries: WebhookDeliveries;
  registry: WebhookRegistry;
  sealer: SecretSealer;
  post: Post;
  now: () => Date;
  random?: () => number;
  /** Appends WebhookEndpointFailing (idempotent). */
  onEndpointFailing(endpointId: string, failingSince: string, lastError: string): Promise<void>;
  observer?: SenderObserver;
  onError(e: unknown, what: string): void;
}

/**
 * Works off the outbox: leases due lane heads, signs and POSTs each, records the outcome. Retries
 * back off exponentially with jitter; a delivery failing for `failingAfterMs` becomes FAILED, and an
 * endpoint whose every attempt failed for that long is marked FAILING (its tried deliveries become
 * FAILED, the rest wait) until the merchant replays or enables it. Sleeps until woken (a local
 * enqueue), until the next retry is due, or `pollMs` (work enqueued by another instance).
 */
export class WebhookSender {
  private running: Promise<void> | null = null;
  private stopped = false;
  private inFlight = new Set<Promise<void>>();
  private wakeUp: (() => void) | null = null;
  private woken = false;

  constructor(
    private readonly deps: SenderDeps,
    private readonly options: SenderOptions,
  ) {}

  start(): void {
    this.running ??= this.loop().catch((e) => this.deps.onError(e, 'webhook sender stopped'));
  }

  /** Something was enqueued: look now. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.running;
    await Promise.all(this.inFlight);
  }

  private iso(offsetMs = 0): string {
    return new Date(this.deps.now().getTime() + offsetMs).toISOString();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.woken = false;
      const room = this.options.concurrency - this.inFlight.size;
      let claimed: Delivery[] = [];
      if (room > 0) {
        try {
          // The lease outlasts an attempt (the POST is cut at timeoutMs) with room to record it; a
          // crashed owner's leases lapse after it, and another instance takes the deliveries over.
          claimed = await this.deps.deliveries.claim(this.options.owner, this.iso(), this.iso(2 * this.options.timeoutMs + 5000), this.deps.registry.held(), room);
        } catch (e) {
          this.deps.onError(e, 'webhook sender: claiming deliveries failed');
        }
      }
      for (const d of claimed) {
        const p: Promise<void> = this.attempt(d)
          .catch((e) => this.deps.onError(e, `webhook delivery ${d.id} could not be recorded`))
          .finally(() => {
            this.inFlight.delete(p);
            this.wake();
          });
        this.inFlight.add(p);
      }
      if (this.stopped) break;
      // Full, or nothing due: sleep until a slot frees, something is enqueued, a retry is due, or the poll.
      if (claimed.length === 0 || this.inFlight.size >= this.options.concurrency) await this.sleep();
    }
  }

  private async sleep(): Promise<void> {
    if (this.woken) return;
    let ms = this.options.pollMs;
    if (this.inFlight.size < this.options.concurrency) {
      const due = await this.deps.deliveries.nextDue(this.deps.registry.held()).catch(() => null);
      if (due !== null) ms = Math.max(5, Math.min(ms, Date.parse(due) - this.deps.now().getTime()));
    }
    if (this.woken) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = null;
  }

  private async attempt(d: Delivery): Promise<void> {
    const endpoint = this.deps.registry.get(d.endpointId);
    // Held since the claim (disabled, failing) or gone: let the lease lapse; the row waits.
    if (!endpoint || endpoint.status !== 'ACTIVE') return;
    // Never send a merchant's event to another merchant's endpoint, whatever the outbox says.
    if (endpoint.merchantId !== d.merchantId) {
      this.deps.onError(new Error(`delivery ${d.id} of merchant ${d.merchantId} is for endpoint ${d.endpointId} of another merchant`), 'webhook delivery refused');
      return;
    }
    const nowIso = this.iso();
    const timestamp = Math.floor(this.deps.now().getTime() / 1000);
    const secrets = signingSecrets(endpoint.secrets, nowIso).map((s) => this.deps.sealer.open(s));
    const outcome = await this.deps.post(
      endpoint.url,
      {
        'content-type': 'application/json',
        'user-agent': 'webdial-webhooks/1',
        'webhook-id': d.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(secrets, d.id, timestamp, d.body),
      },
      d.body,
      this.options.timeoutMs,
    );
    const done = this.iso();
    if (outcome.ok) {
      await this.deps.deliveries.succeeded(d, done, outcome.status);
      this.deps.observer?.attempt('delivered', d.endpointId);
      this.deps.observer?.delivered(Math.max(0, (Date.parse(done) - Date.parse(d.recordedAt)) / 1000));
      return;
    }
    const delay = retryDelayMs(d.attempts + 1, this.options.retry, this.deps.random);
    const giveUpBefore = this.iso(-this.options.failingAfterMs);
    const r = await this.deps.deliveries.failed(d, this.options.owner, done, outcome, this.iso(delay), giveUpBefore);
    this.deps.observer?.attempt(r.status === 'FAILED' ? 'failed' : 'retry', d.endpointId);
    if (r.endpointFailingSince <= giveUpBefore) {
      await this.deps.onEndpointFailing(d.endpointId, r.endpointFailingSince, outcome.error);
      await this.deps.deliveries.failEndpoint(d.endpointId);
    }
  }
}
