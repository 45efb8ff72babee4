import { SIPDispatchRule, SIPDispatchRuleCallee, type SIPDispatchRuleInfo, type SipClient } from 'livekit-server-sdk';
import { INBOUND_ROOM_PREFIX } from './room-events';

/**
 * Inbound calls at the SIP layer (issue 23): one inbound trunk per deployment, accepting only the
 * deployment's virtual numbers (DIDs) and only from the carrier's addresses, and one dispatch rule
 * putting each call into a room of its own, `call-in_<DID>_<random>` (LiveKit's "callee" rule with
 * `randomize`; INBOUND.md), so that the call id is `in_<DID>_<random>` and the caller's number is not
 * in the room name. LiveKit SIP refuses an INVITE to a number no trunk lists, or from an address
 * outside `allowedAddresses`, before any room exists: webdial never sees such a call.
 *
 * The server keeps the trunk's numbers in step with the DIDs when LIVEKIT_SIP_INBOUND_ALLOWED_ADDRESSES
 * is set (createInboundNumberSync). The caller's arrival in its room is reported by webhooks.ts.
 */
export interface InboundRoutingConfig {
  /** The deployment's inbound trunk and dispatch rule are found by this name. */
  name: string;
  /** The DIDs (E.164) the trunk accepts: the To user of the INVITE. */
  numbers: string[];
  /** CIDRs (or addresses) of the carrier's SIP servers; never empty (empty would mean any address). */
  allowedAddresses: string[];
}

export interface InboundRouting {
  trunkId: string;
  ruleId: string;
}

/**
 * Finds the deployment's inbound trunk and dispatch rule by name, or creates them; brings the trunk's
 * numbers and allowed addresses to `wanted` (replacing the lists).
 */
export const ensureInboundRouting = async (sip: SipClient, wanted: InboundRoutingConfig): Promise<InboundRouting> => {
  if (wanted.allowedAddresses.length === 0) throw new Error('inbound trunk: allowedAddresses must name the carrier (an empty list lets any address call in)');
  // An empty `numbers` is not "no number": LiveKit SIP then accepts every number (seen in
  // test/e2e/inbound-sip.e2e.ts). With no DID, there must be no trunk: removeInboundRouting.
  if (wanted.numbers.length === 0) throw new Error('inbound trunk: numbers must list our DIDs (an empty list accepts any number)');
  const trunk = (await sip.listSipInboundTrunk()).filter((t) => t.name === wanted.name).sort((a, b) => a.sipTrunkId.localeCompare(b.sipTrunkId))[0];
  let trunkId: string;
  if (!trunk) trunkId = (await sip.createSipInboundTrunk(wanted.name, wanted.numbers, { allowedAddresses: wanted.allowedAddresses })).sipTrunkId;
  else {
    trunkId = trunk.sipTrunkId;
    // The listed trunk, replaced whole with the wanted lists (the rest as it is).
    trunk.numbers = [...wanted.numbers];
    trunk.allowedAddresses = [...wanted.allowedAddresses];
    await sip.updateSipInboundTrunk(trunkId, trunk);
  }
  const rule = (await sip.listSipDispatchRule()).filter((r) => r.name === wanted.name).sort((a, b) => a.sipDispatchRuleId.localeCompare(b.sipDispatchRuleId))[0];
  let ruleId: string;
  if (!rule)
    ruleId = (await sip.createSipDispatchRule({ type: 'callee', roomPrefix: INBOUND_ROOM_PREFIX, randomize: true }, { name: wanted.name, trunkIds: [trunkId] })).sipDispatchRuleId;
  else {
    ruleId = rule.sipDispatchRuleId;
    // A rule of an earlier version (the "individual" rule, prefix `inbound`) or edited by hand:
    // replaced whole with ours, in place, so that no call finds the number without a rule.
    if (!isOurRule(rule, trunkId)) {
      rule.rule = new SIPDispatchRule({ rule: { case: 'dispatchRuleCallee', value: new SIPDispatchRuleCallee({ roomPrefix: INBOUND_ROOM_PREFIX, randomize: true }) } });
      rule.trunkIds = [trunkId];
      rule.hidePhoneNumber = false; // the arrival needs sip.phoneNumber and sip.trunkPhoneNumber
      await sip.updateSipDispatchRule(ruleId, rule);
    }
  }
  return { trunkId, ruleId };
};

/** The rule webdial wants: callee, `call-in`, randomized, no PIN, our trunk only, numbers shown. */
const isOurRule = (rule: SIPDispatchRuleInfo, trunkId: string): boolean => {
  const r = rule.rule?.rule;
  return (
    r?.case === 'dispatchRuleCallee' &&
    r.value.roomPrefix === INBOUND_ROOM_PREFIX &&
    r.value.randomize &&
    !r.value.pin &&
    rule.trunkIds.length === 1 &&
    rule.trunkIds[0] === trunkId &&
    !rule.hidePhoneNumber
  );
};

/** Removes the deployment's inbound trunk and dispatch rule (tests, decommissioning). */
export const removeInboundRouting = async (sip: SipClient, name: string): Promise<void> => {
  for (const r of await sip.listSipDispatchRule()) if (r.name === name) await sip.deleteSipDispatchRule(r.sipDispatchRuleId);
  for (const t of await sip.listSipInboundTrunk()) if (t.name === name) await sip.deleteSipTrunk(t.sipTrunkId);
};

export interface InboundSyncLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/**
 * Keeps the inbound trunk's numbers in step with the assigned DIDs of this process's view: the
 * numbers at start-up (from the read model), then each assignment or release made here. Syncs run
 * one at a time, each with the whole list. A failed sync is logged and retried by the next change
 * or restart. With several processes, each syncs its own view: a restart converges them (the read
 * model then holds every number).
 */
export const createInboundNumberSync = (sip: SipClient, config: Omit<InboundRoutingConfig, 'numbers'>, logger: InboundSyncLogger, waitMs = 5000) => {
  const numbers = new Set<string>();
  let chain: Promise<void> = Promise.resolve();
  const sync = (): Promise<void> => {
    chain = chain.then(async () => {
      try {
        if (numbers.size === 0) {
          await removeInboundRouting(sip, config.name);
          logger.info({}, 'LiveKit inbound trunk removed: no number is assigned');
          return;
        }
        const r = await ensureInboundRouting(sip, { ...config, numbers: [...numbers].sort() });
        logger.info({ ...r, numbers: numbers.size }, 'LiveKit inbound trunk in step with the assigned numbers');
      } catch (e) {
        logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'LiveKit inbound trunk could not be brought in step with the assigned numbers');
      }
    });
    return chain;
  };
  return {
    start(initial: readonly string[]): Promise<void> {
      for (const n of initial) numbers.add(n);
      return sync();
    },
    /**
     * Waits for the sync at most `waitMs` (a mutation must not hang on a LiveKit that does not
     * answer); past that the sync goes on in the background and logs its outcome.
     */
    changed(number: string, assigned: boolean): Promise<void> {
      if (assigned) numbers.add(number);
      else numbers.delete(number);
      const done = sync();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          logger.warn({ number, waitMs }, 'LiveKit inbound trunk sync still running: answering without waiting for it');
          resolve();
        }, waitMs);
        timer.unref();
      });
      return Promise.race([done, late]).finally(() => clearTimeout(timer));
    },
  };
};
