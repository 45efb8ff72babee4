import { SIPOutboundTrunkInfo, type SipClient } from 'livekit-server-sdk';

/**
 * One outbound trunk per deployment (issue 22: each process created its own "webdial" trunk at its
 * first dial and never reused it, so two processes left two identical trunks). At start-up every
 * process looks the trunk up by its name (LIVEKIT_SIP_TRUNK_NAME, default `webdial`), brings it to
 * the configured address and numbers when they changed, and creates it only when there is none.
 */

export interface OutboundTrunkConfig {
  /** The deployment's trunk name: processes of one deployment share the trunk with this name. */
  name: string;
  /** Hostname[:port] of the carrier's SIP server. */
  address: string;
  /** The numbers (ANIs) the trunk may present. */
  numbers: string[];
  authUsername?: string;
  authPassword?: string;
}

/** What LiveKit lists of a trunk (SIPOutboundTrunkInfo, the fields we compare). */
export interface ListedTrunk {
  sipTrunkId: string;
  name: string;
  address: string;
  numbers: readonly string[];
  authUsername: string;
}

export type TrunkPlan = { kind: 'reuse'; sipTrunkId: string } | { kind: 'update'; sipTrunkId: string } | { kind: 'create' };

const sameNumbers = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().join(',') === [...b].sort().join(',');

/**
 * The trunk to use among those listed: the one with our name and the smallest id (every process of
 * the deployment picks the same one), updated when its address, numbers or user differ; or create.
 */
export const planTrunk = (listed: readonly ListedTrunk[], wanted: OutboundTrunkConfig): TrunkPlan => {
  const ours = listed.filter((t) => t.name === wanted.name).sort((a, b) => (a.sipTrunkId < b.sipTrunkId ? -1 : a.sipTrunkId > b.sipTrunkId ? 1 : 0));
  const t = ours[0];
  if (!t) return { kind: 'create' };
  const same = t.address === wanted.address && sameNumbers(t.numbers, wanted.numbers) && t.authUsername === (wanted.authUsername ?? '');
  return { kind: same ? 'reuse' : 'update', sipTrunkId: t.sipTrunkId };
};

export interface TrunkLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

const listNamed = async (sip: SipClient, name: string): Promise<ListedTrunk[]> =>
  (await sip.listSipOutboundTrunk()).filter((t) => t.name === name).map((t) => ({ sipTrunkId: t.sipTrunkId, name: t.name, address: t.address, numbers: t.numbers, authUsername: t.authUsername }));

/**
 * Finds the deployment's outbound trunk by name, or creates it. Two processes starting together may
 * both create one: each then lists again, and the one whose trunk is not the smallest id deletes its
 * own, so that the deployment converges on one trunk.
 */
export const findOrCreateOutboundTrunk = async (sip: SipClient, wanted: OutboundTrunkConfig, logger: TrunkLogger): Promise<string> => {
  const plan = planTrunk(await listNamed(sip, wanted.name), wanted);
  if (plan.kind === 'reuse') {
    logger.info({ sipTrunkId: plan.sipTrunkId, name: wanted.name }, 'LiveKit outbound trunk found by name: reused');
    return plan.sipTrunkId;
  }
  if (plan.kind === 'update') {
    await sip.updateSipOutboundTrunk(
      plan.sipTrunkId,
      new SIPOutboundTrunkInfo({
        sipTrunkId: plan.sipTrunkId,
        name: wanted.name,
        address: wanted.address,
        numbers: wanted.numbers,
        authUsername: wanted.authUsername ?? '',
        authPassword: wanted.authPassword ?? '',
      }),
    );
    logger.info({ sipTrunkId: plan.sipTrunkId, name: wanted.name, address: wanted.address }, 'LiveKit outbound trunk found by name: updated to the configured address and numbers');
    return plan.sipTrunkId;
  }
  const created = await sip.createSipOutboundTrunk(wanted.name, wanted.address, wanted.numbers, {
    transport: 0 as never, // SIP_TRANSPORT_AUTO
    authUsername: wanted.authUsername,
    authPassword: wanted.authPassword,
  });
  const after = planTrunk(await listNamed(sip, wanted.name), wanted);
  if (after.kind !== 'create' && after.sipTrunkId !== created.sipTrunkId) {
    // Another process of this deployment created one first (smaller id): use it, remove ours.
    await sip.deleteSipTrunk(created.sipTrunkId).catch((e: unknown) => logger.warn({ sipTrunkId: created.sipTrunkId, err: String(e) }, 'LiveKit: could not delete a duplicate outbound trunk'));
    logger.info({ sipTrunkId: after.sipTrunkId, name: wanted.name }, 'LiveKit outbound trunk created concurrently by another process: reused');
    return after.sipTrunkId;
  }
  logger.info({ sipTrunkId: created.sipTrunkId, name: wanted.name, address: wanted.address }, 'LiveKit outbound trunk created');
  return created.sipTrunkId;
};
