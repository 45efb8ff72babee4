import type { CallProgressSink, DialRequest, MediaGateway, MediaJoin } from '../../ports/media';

/** mulberry32: a tiny seeded PRNG, so the same seed and call order give the same outcomes. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

type Outcome = 'ANSWER' | 'BUSY' | 'NO_ANSWER';

/** How the simulated center behaves (WEBDIAL_SIM_* in the configuration). */
export interface SimulatorOptions {
  seed: number;
  ringDelayMs: number;
  answerDelayMs: number;
  talkMs: number;
  busyRate: number;
  noAnswerRate: number;
  /** DTMF keyed by the simulated agent after answer, e.g. "*22" (empty: none). */
  dtmfScript: string;
}

/**
 * The call-center simulator: a labelled stand-in for the PSTN side in embedded mode, the demo, load
 * tests and end-to-end tests — never real media. On dial (of a call's leg, or of a second leg: DialRequest.intoCallId) it rings, then answers (or is busy / does not
 * answer, at the configured rates), keys its DTMF script, and hangs up after the talk time. Outcomes
 * come from a seeded PRNG drawn once per dial, so runs repeat.
 */
export class CallCenterSimulator implements MediaGateway {
  readonly provider = 'simulator';
  private readonly random: () => number;
  private readonly timers = new Map<string, Set<NodeJS.Timeout>>();
  private closed = false;

  constructor(
    private readonly config: SimulatorOptions,
    private readonly sink: CallProgressSink,
    private readonly onError: (callId: string, e: unknown) => void = () => undefined,
  ) {
    this.random = prng(config.seed);
  }

  async joinDetails(callId: string): Promise<MediaJoin> {
    return { provider: this.provider, url: null, token: null, room: `sim-${callId}` };
  }

  /** The outcome a dial will have: exposed so tests and the demo can predict a seeded run. */
  drawOutcome(): Outcome {
    const r = this.random();
    if (r < this.config.busyRate) return 'BUSY';
    if (r < this.config.busyRate + this.config.noAnswerRate) return 'NO_ANSWER';
    return 'ANSWER';
  }

  async dial(req: DialRequest): Promise<void> {
    const outcome = this.drawOutcome();
    const { callId } = req;
    const c = this.config;
    const ev = (what: string) => `sim:${callId}:${what}`;
    this.after(callId, c.ringDelayMs, () => this.sink.ringing(callId, ev('ringing')));
    if (outcome === 'BUSY') {
      this.after(callId, c.ringDelayMs + c.answerDelayMs, () => this.sink.terminated(callId, 'BUSY', 486, ev('busy')));
      return;
    }
    if (outcome === 'NO_ANSWER') {
      this.after(callId, Math.min(c.ringDelayMs + c.answerDelayMs * 3, req.ringingTimeoutSeconds * 1000), () =>
        this.sink.terminated(callId, 'NO_ANSWER', 480, ev('no-answer')),
      );
      return;
    }
    const answerAt = c.ringDelayMs + c.answerDelayMs;
    this.after(callId, answerAt, () => this.sink.answered(callId, ev('answered')));
    [...c.dtmfScript].forEach((digit, i) => this.after(callId, answerAt + 100 * (i + 1), () => this.sink.dtmf(callId, digit, ev(`dtmf-${i}`))));
    this.after(callId, answerAt + Math.max(c.talkMs, 100 * (c.dtmfScript.length + 1)), () => this.sink.terminated(callId, 'HANGUP', 200, ev('hangup')));
  }

  /**
   * The caller hung up: the simulated agent stops doing anything for this call, and the call's second
   * legs (DialRequest.intoCallId, ids `<callId>.<name>`) with it; a second leg's id stops that leg only.
   */
  async hangUp(callId: string): Promise<void> {
    for (const id of [...this.timers.keys()]) {
      if (id !== callId && !id.startsWith(`${callId}.`)) continue;
      for (const t of this.timers.get(id) ?? []) clearTimeout(t);
      this.timers.delete(id);
    }
  }

  async sendDtmf(): Promise<void> {
    // The simulated agent does not react to DTMF from our side.
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.timers.keys()]) await this.hangUp(id);
  }

  private after(callId: string, ms: number, fn: () => Promise<void>): void {
    if (this.closed) return;
    const set = this.timers.get(callId) ?? new Set<NodeJS.Timeout>();
    this.timers.set(callId, set);
    const t = setTimeout(() => {
      set.delete(t);
      if (set.size === 0) this.timers.delete(callId);
      fn().catch((e) => this.onError(callId, e));
    }, ms);
    set.add(t);
  }
}
