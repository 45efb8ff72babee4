/**
 * The caller's identity as the call center receives it in-band (issue 23): the session number a
 * center that opted in hears as RFC 4733 DTMF right after it answers, followed by `#`, and that the
 * CRM's screen pop can be looked up by (`callContextBySessionNumber`).
 *
 * The number is the shop's own identifier, so that the agent's CRM can match it without webdial:
 * the call's sessionId when it is 1 to SESSION_NUMBER_MAX_DIGITS digits, otherwise its customerId
 * under the same rule. A call whose ids are not such numbers has no session number (nothing is
 * played; the X-Webdial-* headers still carry the ids).
 */
export const SESSION_NUMBER_MAX_DIGITS = 16;

const SESSION_NUMBER = new RegExp(`^[0-9]{1,${SESSION_NUMBER_MAX_DIGITS}}$`);

export const isSessionNumber = (value: unknown): value is string => typeof value === 'string' && SESSION_NUMBER.test(value);

export const sessionNumberOf = (ids: { sessionId: string | null; customerId: string | null }): string | null =>
  isSessionNumber(ids.sessionId) ? ids.sessionId : isSessionNumber(ids.customerId) ? ids.customerId : null;

/** The digits played after answer: the session number, then `#` (the end of the number for the PBX). */
export const identityDtmfOf = (sessionNumber: string | null): string | null => (sessionNumber === null ? null : `${sessionNumber}#`);

/**
 * What a dial to a call center tells it of the click (DialRequest.identity, the X-Webdial headers): the
 * shop's ids, and for a center that opted in (`identityDtmf`), the session number as DTMF after its answer.
 */
export const centerIdentityOf = (
  click: { linkId: string | null; customerId: string | null; sessionId: string | null },
  center: { identityDtmf: boolean },
): { linkId: string; customerId: string | null; sessionId: string | null; dtmfAfterAnswer: string | null } => ({
  linkId: click.linkId ?? '',
  customerId: click.customerId,
  sessionId: click.sessionId,
  dtmfAfterAnswer: center.identityDtmf ? identityDtmfOf(sessionNumberOf(click)) : null,
});
