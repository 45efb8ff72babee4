import { DEPENDENCY_LABEL, type Dependency } from '../ports/dependency';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

/** What `/readyz` answers: a boolean per dependency, and why each failing one failed. */
export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean>;
  /** The error of each dependency that did not answer, and how long it has been failing. */
  reasons: Record<string, string>;
  /**
   * Dependencies the server works without, failing now (Redis: rate limits per instance; the media
   * server): said, but they do not make the server unready.
   */
  degraded: Record<string, string>;
}

export interface DependencyMonitorOptions {
  /** How often a dependency that failed is pinged until it answers again. Default 1 s. */
  probeMs?: number;
  /** At most one "still unavailable" line per dependency this often. Default 10 s. */
  logEveryMs?: number;
  /** A ping that takes longer counts as failed. Default 3 s. */
  pingTimeoutMs?: number;
}

interface Outage {
  since: number;
  errors: number;
  lastLog: number;
  lastError: string;
  lastErrorAt: number;
  probing: NodeJS.Timeout | null;
}

const text = (e: unknown): string => (e instanceof Error ? e.message : String(e)).slice(0, 500);

/**
 * One place that knows which dependency is failing. Everything that survives a dependency error
 * (a store subscription reading again, the relay publishing again, a projection batch retried, a
 * request answered UNAVAILABLE) reports it here: it is counted in
 * `webdial_dependency_errors_total{dependency}`, logged once when the outage starts and then at
 * most every `logEveryMs` (a 5-second outage is a few lines, not thousands), and the dependency is
 * pinged every `probeMs` until it answers, which is logged with how long it was away.
 * `/readyz` pings every dependency itself, with a timeout, and reports each one's reason.
 */
export class DependencyMonitor {
  private readonly outages = new Map<Dependency, Outage>();
  private closed = false;

  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly pings: Partial<Record<Dependency, () => Promise<void>>>,
    private readonly options: DependencyMonitorOptions = {},
  ) {}

  /** A dependency failed work that the server survives and retries (`where` says which). */
  failed(dependency: Dependency, error: unknown, where: string): void {
    this.metrics.dependencyErrors.inc({ dependency });
    this.markDown(dependency, error, where);
  }

  /** Whether a dependency is failing now, as far as the monitor knows (no ping). */
  isDown(dependency: Dependency): boolean {
    return this.outages.has(dependency);
  }

  /** Pings every dependency now, each with a timeout: the answer of `/readyz`. */
  async readiness(): Promise<Readiness> {
    const entries = await Promise.all(
      (Object.keys(this.pings) as Dependency[]).map(async (d) => {
        try {
          await this.ping(d);
          this.recovered(d);
          return [d, null] as const;
        } catch (e) {
          this.markDown(d, e, 'readiness');
          const o = this.outages.get(d);
          const forS = o ? ` (failing for ${((Date.now() - o.since) / 1000).toFixed(1)} s)` : '';
          return [d, `${text(e)}${forS}`] as const;
        }
      }),
    );
    const checks: Record<string, boolean> = {};
    const reasons: Record<string, string> = {};
    for (const [d, reason] of entries) {
      checks[d] = reason === null;
      if (reason !== null) reasons[d] = reason;
    }
    const degraded: Record<string, string> = {};
    for (const [d, o] of this.outages)
      if (!this.pings[d]) degraded[d] = `${o.lastError} (${o.errors} error(s), failing for ${((Date.now() - o.since) / 1000).toFixed(1)} s)`;
    return { ready: Object.values(checks).every(Boolean), checks, reasons, degraded };
  }

  close(): void {
    this.closed = true;
    for (const o of this.outages.values()) if (o.probing) clearTimeout(o.probing);
  }

  private ping(d: Dependency): Promise<void> {
    const ping = this.pings[d];
    if (!ping) return Promise.resolve();
    const ms = this.options.pingTimeoutMs ?? 3_000;
    return new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${DEPENDENCY_LABEL[d]} did not answer within ${ms} ms`)), ms);
      ping().then(
        () => {
          clearTimeout(t);
          resolve();
        },
        (e) => {
          clearTimeout(t);
          reject(e);
        },
      );
    });
  }

  private markDown(d: Dependency, error: unknown, where: string): void {
    const now = Date.now();
    const o = this.outages.get(d);
    if (!o) {
      this.outages.set(d, { since: now, errors: 1, lastLog: now, lastError: text(error), lastErrorAt: now, probing: null });
      this.logger.warn({ dependency: d, where, err: error }, `${DEPENDENCY_LABEL[d]} is unavailable (${where}: ${text(error)}); retrying, nothing is skipped`);
      this.probe(d);
      return;
    }
    o.errors++;
    o.lastError = text(error);
    o.lastErrorAt = now;
    if (now - o.lastLog >= (this.options.logEveryMs ?? 10_000)) {
      o.lastLog = now;
      this.logger.warn(
        { dependency: d, where, errors: o.errors, downForMs: now - o.since, err: error },
        `${DEPENDENCY_LABEL[d]} still unavailable after ${((now - o.since) / 1000).toFixed(1)} s (${o.errors} errors); retrying`,
      );
    }
  }

  /** The dependency answers again (told by its client, or seen by a ping): logged with how long it was away. */
  recovered(d: Dependency): void {
    const o = this.outages.get(d);
    if (!o) return;
    this.outages.delete(d);
    if (o.probing) clearTimeout(o.probing);
    const ms = Date.now() - o.since;
    this.logger.info({ dependency: d, downForMs: ms, errors: o.errors }, `${DEPENDENCY_LABEL[d]} is back after ${(ms / 1000).toFixed(1)} s (${o.errors} errors survived)`);
  }

  /**
   * Pings a failing dependency every probeMs until it answers. One without a ping (media) counts as
   * back once five periods passed without a new error.
   */
  private probe(d: Dependency): void {
    const o = this.outages.get(d);
    if (!o || this.closed) return;
    const every = this.options.probeMs ?? 1_000;
    const attempt = async () => {
      o.probing = null;
      if (this.closed || this.outages.get(d) !== o) return;
      try {
        if (this.pings[d]) await this.ping(d);
        else if (Date.now() - o.lastErrorAt < 5 * every) throw new Error(o.lastError);
        this.recovered(d);
      } catch {
        this.probe(d);
      }
    };
    o.probing = setTimeout(() => void attempt(), every);
    o.probing.unref();
  }
}
