import type { Clock } from '../ports/clock';
import type { CallCenterConfig, CallCenterKind, DtmfAction, OpeningHours } from '../domain/merchant/events';
import type { Role } from '../domain/merchant/api-key';
import type { PortConfig } from '../domain/gateway/events';
import type { RatePlan } from '../domain/rating/rate-plan';
import type { QueuePolicy } from '../domain/queue/queue';
import { merchantDecider, type ActiveMerchant } from '../domain/merchant/merchant';
import { apiKeyDecider } from '../domain/merchant/api-key-decider';
import { gatewayDecider } from '../domain/gateway/gateway';
import { DomainError, notFound } from '../domain/shared/errors';
import { apiKeyStreamId, gatewayStreamId, merchantStreamId } from '../domain/shared/streams';
import type { CommandHandler } from './command-handler';
import type { IdGenerator } from './ids';
import { generateApiKey } from './auth';
import type { LiveState } from './live-state';

export interface MerchantView {
  id: string;
  name: string;
  maxConcurrentCalls: number | null;
  allowedOrigins: string[] | null;
  /** Issue 25: null when unset. */
  callbackPrefixes: string[] | null;
}
export interface CallCenterView extends Omit<CallCenterConfig, 'callCenterId'> {
  id: string;
  merchantId: string;
  redirectedTo: string | null;
  identityDtmf: boolean;
}
export interface LinkView {
  id: string;
  merchantId: string;
  label: string;
  callCenterIds: string[];
  queuePolicy: QueuePolicy | null;
}
/** A gateway as createGateway answers it: its configured ports (the read side's GatewayView adds each port's state). */
export interface CreatedGateway {
  id: string;
  name: string;
  region: string;
  ports: PortConfig[];
}

/** Where call centers' owners are looked up: the read side, and a wait until it has applied what is stored now. */
export interface CenterDirectory {
  callCenterOwner(callCenterId: string): Promise<string | null>;
  caughtUp(): Promise<void>;
}

/** Configuration use cases of operators and merchants: merchants, centers, links, plans, gateways, keys. */
export class AdminService {
  constructor(
    private readonly handler: CommandHandler,
    private readonly live: LiveState,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly directory: CenterDirectory,
  ) {}

  /**
   * The merchant a call center belongs to, from the read side (merchants). A center it does not
   * know yet may have been added a moment ago: the read side is given until it has applied
   * everything stored now, then the answer is NOT_FOUND.
   */
  async callCenterOwner(callCenterId: string): Promise<string> {
    const known = await this.directory.callCenterOwner(callCenterId);
    if (known) return known;
    await this.directory.caughtUp().catch(() => undefined);
    const owner = await this.directory.callCenterOwner(callCenterId);
    if (!owner) throw notFound('call center', callCenterId);
    return owner;
  }

  async createMerchant(input: { name: string; maxConcurrentCalls: number | null; allowedOrigins: string[] | null }, correlationId: string): Promise<MerchantView> {
    const merchantId = this.ids.id('m');
    const { state } = await this.handler.handle(
      merchantDecider,
      merchantStreamId(merchantId),
      { type: 'CreateMerchant', data: { merchantId, ...input, at: this.now() } },
      { merchantId, correlationId, causationId: null },
    );
    return merchantView(state as ActiveMerchant);
  }

  async merchant(merchantId: string): Promise<ActiveMerchant> {
    const { state } = await this.handler.load(merchantDecider, merchantStreamId(merchantId));
    if (state.status === 'Absent') throw notFound('merchant', merchantId);
    return state;
  }

  async addCallCenter(
    input: { merchantId: string; name: string; phoneNumber: string; timeZone: string; weeklyHours: OpeningHours[] | null; capacity: number; region: string; kind: CallCenterKind },
    correlationId: string,
  ): Promise<CallCenterView> {
    const callCenterId = this.ids.id('cc');
    const { merchantId, ...config } = input;
    const state = await this.merchantCommand(merchantId, { type: 'AddCallCenter', data: { callCenterId, ...config, at: this.now() } }, correlationId);
    return centerView(state, callCenterId);
  }

  async redirectCallCenter(merchantId: string, callCenterId: string, toCallCenterId: string | null, correlationId: string): Promise<CallCenterView> {
    const state = await this.merchantCommand(merchantId, { type: 'RedirectCallCenter', data: { callCenterId, toCallCenterId, at: this.now() } }, correlationId);
    return centerView(state, callCenterId);
  }

  async setCallCenterKind(merchantId: string, callCenterId: string, kind: CallCenterKind, correlationId: string): Promise<CallCenterView> {
    const state = await this.merchantCommand(merchantId, { type: 'SetCallCenterKind', data: { callCenterId, kind, at: this.now() } }, correlationId);
    return centerView(state, callCenterId);
  }

  async setCallCenterIdentityDtmf(merchantId: string, callCenterId: string, enabled: boolean, correlationId: string): Promise<CallCenterView> {
    const state = await this.merchantCommand(merchantId, { type: 'SetCallCenterIdentityDtmf', data: { callCenterId, enabled, at: this.now() } }, correlationId);
    return centerView(state, callCenterId);
  }

  async createLink(input: { merchantId: string; label: string; callCenterIds: string[] }, correlationId: string): Promise<LinkView> {
    const linkId = this.ids.id('l');
    const state = await this.merchantCommand(input.merchantId, { type: 'CreateLink', data: { linkId, label: input.label, callCenterIds: input.callCenterIds, at: this.now() } }, correlationId);
    return linkView(state, linkId);
  }

  /**
   * Issue 25: how the link's calls may wait when every center is busy (null: they do not wait).
   * Out of QUEUE_POLICY_BOUNDS: BAD_USER_INPUT (reason QUEUE_POLICY_INVALID); an unknown link: NOT_FOUND.
   */
  async setLinkQueuePolicy(merchantId: string, linkId: string, policy: QueuePolicy | null, correlationId: string): Promise<LinkView> {
    const state = await this.merchantCommand(merchantId, { type: 'SetLinkQueuePolicy', data: { linkId, policy, at: this.now() } }, correlationId);
    return linkView(state, linkId);
  }

  /** Issue 25: the merchant's callback prefixes (null: unset); the merchant as it is then. */
  async setCallbackPrefixes(merchantId: string, prefixes: string[] | null, correlationId: string): Promise<MerchantView> {
    return merchantView(await this.merchantCommand(merchantId, { type: 'SetCallbackPrefixes', data: { prefixes, at: this.now() } }, correlationId));
  }

  async setRatePlan(merchantId: string, plan: Omit<RatePlan, 'version'>, correlationId: string): Promise<RatePlan> {
    const state = await this.merchantCommand(merchantId, { type: 'SetRatePlan', data: { plan, at: this.now() } }, correlationId);
    return state.ratePlan!;
  }

  async setDtmfCommand(merchantId: string, sequence: string, action: DtmfAction, argument: string | null, correlationId: string): Promise<void> {
    await this.merchantCommand(merchantId, { type: 'SetDtmfCommand', data: { sequence, action, argument, at: this.now() } }, correlationId);
  }

  /** Issues a key; the secret is returned once and only its hash is stored. */
  async createApiKey(
    role: Role,
    merchantId: string | null,
    correlationId: string,
    callCenterId: string | null = null,
  ): Promise<{ key: string; role: Role; merchantId: string | null; callCenterId: string | null }> {
    if (merchantId !== null) {
      const m = await this.merchant(merchantId);
      if (callCenterId !== null && !m.callCenters[callCenterId]) throw notFound('call center', callCenterId);
    }
    const keyId = this.ids.id('k').replace(/^k_/, 'k');
    const { key, hash } = generateApiKey(keyId);
    await this.handler.handle(
      apiKeyDecider,
      apiKeyStreamId(keyId),
      { type: 'IssueApiKey', data: { keyId, keyHash: hash, role, merchantId, callCenterId, at: this.now() } },
      { merchantId, correlationId, causationId: null },
    );
    return { key, role, merchantId, callCenterId };
  }

  async revokeApiKey(keyId: string, correlationId: string): Promise<void> {
    await this.handler.handle(apiKeyDecider, apiKeyStreamId(keyId), { type: 'RevokeApiKey', data: { keyId, at: this.now() } }, { merchantId: null, correlationId, causationId: null });
  }

  async createGateway(input: { name: string; region: string; ports: PortConfig[] }, correlationId: string): Promise<CreatedGateway> {
    const gatewayId = this.ids.id('gw');
    const r = await this.handler.handle(
      gatewayDecider,
      gatewayStreamId(gatewayId),
      { type: 'CreateGateway', data: { gatewayId, ...input, at: this.now() } },
      { merchantId: null, correlationId, causationId: null },
    );
    // Initiations of this process find the gateway as soon as this returns.
    const position = r.stored.at(-1)?.position;
    if (position) await this.live.waitFor(position);
    return { id: gatewayId, name: input.name, region: input.region, ports: input.ports };
  }

  private async merchantCommand(merchantId: string, command: Parameters<typeof merchantDecider.decide>[0], correlationId: string): Promise<ActiveMerchant> {
    const { state } = await this.handler.handle(merchantDecider, merchantStreamId(merchantId), command, { merchantId, correlationId, causationId: null });
    if (state.status === 'Absent') throw notFound('merchant', merchantId);
    return state;
  }

  private now(): string {
    return this.clock.now().toISOString();
  }
}

export const merchantView = (m: ActiveMerchant): MerchantView => ({
  id: m.merchantId,
  name: m.name,
  maxConcurrentCalls: m.maxConcurrentCalls,
  allowedOrigins: m.allowedOrigins,
  callbackPrefixes: m.callbackPrefixes ?? null,
});

const linkView = (m: ActiveMerchant, linkId: string): LinkView => {
  const link = m.links[linkId];
  return { id: linkId, merchantId: m.merchantId, label: link.label, callCenterIds: link.callCenterIds, queuePolicy: link.queuePolicy ?? null };
};

const centerView = (m: ActiveMerchant, callCenterId: string): CallCenterView => {
  const c = m.callCenters[callCenterId];
  if (!c) throw new DomainError('NOT_FOUND', `call center ${callCenterId} not found`);
  const { callCenterId: id, ...rest } = c;
  return { id, merchantId: m.merchantId, ...rest, identityDtmf: rest.identityDtmf ?? false };
};
