import type { Clock } from '../../ports/clock';
import type { MediaGateway } from '../../ports/media';
import { callDecider } from '../../domain/call/call';
import { callStreamId } from '../../domain/shared/streams';
import type { CallView } from '../../projections/call-history/view';
import type { ReportCallerMediaSettings } from '../../domain/call/commands';
import type { CommandHandler } from '../command-handler';
import type { CallTokens } from '../call-token';
import type { CallReader } from './reader';
import type { CallEnding } from './terminate';

/** What the two sides do on a call once it is placed: the caller hangs up or leaves, either side chats. */
export class CallerActions {
  constructor(
    private readonly handler: CommandHandler,
    private readonly reader: CallReader,
    private readonly media: MediaGateway,
    private readonly tokens: CallTokens,
    private readonly clock: Clock,
    private readonly ending: CallEnding,
  ) {}

  /**
   * The caller hangs up (or closes the window). Idempotent. The token names the call; the merchant
   * recorded is the stored call's, never the one the token claims.
   */
  async hangUp(callToken: string, correlationId: string): Promise<CallView> {
    const { callId } = this.tokens.verify(callToken, this.clock.now());
    const { version } = await this.ending.end(callId, { cause: 'HANGUP', by: 'CALLER', sipStatus: null, gatewayEventId: null }, { correlationId, causationId: null });
    await this.media.hangUp(callId);
    return this.reader.view(callId, version);
  }

  /** The caller's browser left the media room (LiveKit webhook): the same as a hang-up. */
  async left(callId: string, correlationId: string): Promise<void> {
    await this.ending.end(callId, { cause: 'HANGUP', by: 'CALLER', sipStatus: null, gatewayEventId: null }, { correlationId, causationId: null });
    await this.media.hangUp(callId);
  }

  /**
   * The caller's browser reports what it applied to its microphone. The call token is the only
   * credential and names the call: a report can only ever be about the caller's own microphone.
   */
  async reportMediaSettings(callToken: string, report: Omit<ReportCallerMediaSettings['data'], 'callId' | 'at'>, correlationId: string): Promise<void> {
    const now = this.clock.now();
    const { callId } = this.tokens.verify(callToken, now);
    await this.handler.handle(
      callDecider,
      callStreamId(callId),
      { type: 'ReportCallerMediaSettings', data: { callId, ...report, at: now.toISOString() } },
      { correlationId, causationId: null },
    );
  }

  /**
   * Chat on a channel the agent opened with #NN#. The caller sends with its call token, the agent
   * side with the call id (its key is checked by the API); the other side receives it (the caller's
   * customerSession, the agent's callEvents).
   */
  async sendChannelMessage(from: { caller: string } | { agentCallId: string }, channelId: string, text: string, correlationId: string): Promise<void> {
    const now = this.clock.now();
    const callId = 'caller' in from ? this.tokens.verify(from.caller, now).callId : from.agentCallId;
    await this.handler.handle(
      callDecider,
      callStreamId(callId),
      { type: 'SendChannelMessage', data: { callId, channelId, from: 'caller' in from ? 'CALLER' : 'AGENT', text, at: now.toISOString() } },
      { correlationId, causationId: null },
    );
  }
}
