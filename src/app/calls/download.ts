import type { Clock } from '../../ports/clock';
import type { MediaGateway, MediaJoin } from '../../ports/media';
import type { RecordDownload } from '../../domain/call/commands';
import { callDecider } from '../../domain/call/call';
import { callStreamId } from '../../domain/shared/streams';
import type { CommandHandler } from '../command-handler';
import type { IdGenerator } from '../ids';
import type { CallTokens } from '../call-token';
import type { CallReader } from './reader';

/** What the widget sends at download (the call id, the time and the policy are the server's). */
export type DownloadRequest = Omit<RecordDownload['data'], 'callId' | 'at' | 'policy'>;

export interface DownloadOptions {
  /** The context's JSON size limit. */
  maxContextBytes: number;
}

/**
 * The widget's first steps: the download (the call is recorded, the widget gets a call token scoped
 * to it) and the caller's join of the call's media room. What a download may carry is decided by the
 * call decider under the merchant's policy (src/domain/call/download-policy.ts); this only gathers
 * the merchant's facts, the server's id and time, and hands out the token.
 */
export class CallDownloads {
  constructor(
    private readonly handler: CommandHandler,
    private readonly reader: CallReader,
    private readonly media: MediaGateway,
    private readonly tokens: CallTokens,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly options: DownloadOptions,
  ) {}

  /**
   * `requestOrigin` is the browser's Origin header, when there is one: unlike `pageUrl`, a page cannot
   * forge it, so a page allowed for another merchant cannot place calls for this one.
   */
  async record(req: DownloadRequest, correlationId: string, requestOrigin: string | null = null): Promise<{ callId: string; callToken: string; media: MediaJoin }> {
    const merchant = await this.reader.merchant(req.merchantId);
    const now = this.clock.now();
    const callId = this.ids.id('c');
    const policy = { links: Object.keys(merchant.links), allowedOrigins: merchant.allowedOrigins, requestOrigin, maxContextBytes: this.options.maxContextBytes };
    await this.handler.handle(
      callDecider,
      callStreamId(callId),
      { type: 'RecordDownload', data: { callId, ...req, context: req.context ?? null, at: now.toISOString(), policy } },
      { merchantId: req.merchantId, correlationId, causationId: null },
    );
    // The room's join token is handed out once, by joinMedia: here only where the media lives.
    const media = await this.media.joinDetails(callId);
    return { callId, callToken: this.tokens.issue(callId, req.merchantId, now), media: { ...media, token: null } };
  }

  /**
   * The caller's join of the call's media room (LiveKit: URL, room and a microphone-only token).
   * Once per call: a second join with the same call token is refused (CONFLICT), as is a forged or
   * expired token (UNAUTHENTICATED) or an ended call; none of them changes anything.
   */
  async joinMedia(callToken: string, correlationId: string): Promise<MediaJoin> {
    const now = this.clock.now();
    const { callId, merchantId } = this.tokens.verify(callToken, now);
    const join = await this.media.joinDetails(callId);
    await this.handler.handle(
      callDecider,
      callStreamId(callId),
      { type: 'JoinMedia', data: { callId, room: join.room ?? callId, at: now.toISOString() } },
      { merchantId, correlationId, causationId: null },
    );
    return join;
  }
}
