import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parse, Kind, type ObjectTypeDefinitionNode } from 'graphql';
import type { Client } from 'graphql-ws';
import { gql, gqlRaw } from '../../src/cli/client';
import { ADMIN_KEY, eventually, startServer, wsClient, type ServerProcess } from '../support/server';
import { SqliteEventStore } from '../../src/adapters/eventstore/sqlite';

/**
 * The authorization table of issue 6: every operation of schema.graphql × every kind of principal ×
 * a resource of merchant A or of merchant B, one node:test test per cell, over real HTTP and
 * WebSocket against one `webdial serve` process.
 *
 * The expected outcomes are written out below as a literal matrix (one line of nine cells per
 * operation and target merchant), not derived from a rule: the server's own rule (`authorize`) is what
 * is under test. Outcomes:
 *   OK              the operation ran and (for reads) shows the target's resource
 *   HIDDEN          a read of another merchant's data that answers null / [] / without the resource
 *   FORBIDDEN       extensions.code FORBIDDEN (HTTP) or an error on subscribe (WebSocket)
 *   UNAUTHENTICATED extensions.code UNAUTHENTICATED
 * An operation with two ways in has a row per way: `calls[unfiltered]` and `replayCallEvents[no merchant]`
 * (the target's call must be in, or absent from, what an unscoped request returns), `callContextByAni[at]`
 * (the look-up at a past instant, a different query than "now") and sendChannelMessage's `[caller]`
 * (call token) and `[agent]` (callId and a key) sides; issue 25's `agentHangUp[offered]` (a call offered
 * to the key's center by a transfer, not yet taken), `cancelCallback[other click]` (a token of
 * another click than the booking's), `answerCallback[other click]` and `declineCallback[other click]` likewise,
 * and `cancelMerchantCallback[other]` (the merchant named is not the
 * callback's). A first test checks that the table names every root field of schema.graphql,
 * so a new operation cannot go unchecked.
 */

type Outcome = 'OK' | 'HIDDEN' | 'FORBIDDEN' | 'UNAUTHENTICATED';
type M = 'A' | 'B';
const PRINCIPALS = ['anonymous', 'ADMIN', 'MERCHANT(A)', 'CRM(A)', 'ANALYST(A)', 'MERCHANT(B)', 'CRM(B)', 'ANALYST(B)', 'GATEWAY', 'AGENT(A)', 'AGENT(A*)'] as const;
type Principal = (typeof PRINCIPALS)[number];
const CODE: Record<string, Outcome> = { O: 'OK', H: 'HIDDEN', F: 'FORBIDDEN', U: 'UNAUTHENTICATED' };

// ------------------------------------------------------------------------------------------------
// The table. Columns: anonymous ADMIN MERCHANT(A) CRM(A) ANALYST(A) MERCHANT(B) CRM(B) ANALYST(B) GATEWAY
// AGENT(A) AGENT(A*): AGENT keys of merchant A bound to its main call center (where the live call is) and
// to its browser (PC-to-PC) call center.
// `A`/`B`: the operation targets merchant A's / merchant B's resource; `-`: it names no merchant.
// ------------------------------------------------------------------------------------------------
const MATRIX: ReadonlyArray<readonly [op: string, target: M | '-', cells: string]> = [
  //                                          anon ADM M(A) C(A) N(A) M(B) C(B) N(B) GW   G(A) G(A*)
  // ---- queries
  ['call', 'A', /*                         */ 'U    O    O    O    O    H    H    H    F    O    H'],
  ['call', 'B', /*                         */ 'U    O    H    H    H    O    O    O    F    H    H'],
  ['calls', 'A', /* filter.merchantId      */ 'U    O    O    O    O    F    F    F    F    O    H'],
  ['calls', 'B', /*                        */ 'U    O    F    F    F    O    O    O    F    F    F'],
  ['calls[unfiltered]', 'A', /*            */ 'U    O    O    O    O    H    H    H    F    O    H'],
  ['calls[unfiltered]', 'B', /*            */ 'U    O    H    H    H    O    O    O    F    H    H'],
  ['callTimeline', 'A', /*                 */ 'U    O    O    O    O    H    H    H    F    O    H'],
  ['callTimeline', 'B', /*                 */ 'U    O    H    H    H    O    O    O    F    H    H'],
  ['callContextByAni', 'A', /*             */ 'U    O    O    O    O    H    H    H    F    O    H'],
  ['callContextByAni', 'B', /*             */ 'U    O    H    H    H    O    O    O    F    H    H'],
  ['callContextByAni[at]', 'A', /* past   */ 'U    O    O    O    O    H    H    H    F    O    H'],
  ['callContextByAni[at]', 'B', /*         */ 'U    O    H    H    H    O    O    O    F    H    H'],
  ['billingSummary', 'A', /*               */ 'U    O    O    F    O    F    F    F    F    F    F'],
  ['billingSummary', 'B', /*               */ 'U    O    F    F    F    O    F    O    F    F    F'],
  ['gateway', '-', /*                      */ 'U    O    F    F    F    F    F    F    F    F    F'],
  ['apiKeys', 'A', /*                      */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['apiKeys', 'B', /*                      */ 'U    O    F    F    F    O    F    F    F    F    F'],
  // ---- mutations: operator (ADMIN only)
  ['createMerchant', '-', /*               */ 'U    O    F    F    F    F    F    F    F    F    F'],
  ['createApiKey', 'A', /*                 */ 'U    O    F    F    F    F    F    F    F    F    F'],
  ['createApiKey', 'B', /*                 */ 'U    O    F    F    F    F    F    F    F    F    F'],
  ['createGateway', '-', /*                */ 'U    O    F    F    F    F    F    F    F    F    F'],
  ['revokeApiKey', 'A', /*                 */ 'U    O    F    F    F    F    F    F    F    F    F'],
  ['revokeApiKey', 'B', /*                 */ 'U    O    F    F    F    F    F    F    F    F    F'],
  // ---- mutations: configuration (ADMIN or that MERCHANT)
  ['addCallCenter', 'A', /*                */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['addCallCenter', 'B', /*                */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['redirectCallCenter', 'A', /*           */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['redirectCallCenter', 'B', /*           */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['createLink', 'A', /*                   */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['createLink', 'B', /*                   */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['setRatePlan', 'A', /*                  */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['setRatePlan', 'B', /*                  */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['setDtmfCommand', 'A', /*               */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['setDtmfCommand', 'B', /*               */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['setLinkQueuePolicy', 'A', /*           */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['setLinkQueuePolicy', 'B', /*           */ 'U    O    F    F    F    O    F    F    F    F    F'],
  // ---- mutations: widget (public; scoped by merchant/link and then by the call token)
  ['recordDownload', 'A', /*               */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['recordDownload', 'B', /*               */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['initiateCall', 'A', /*                 */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['initiateCall', 'B', /*                 */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['joinMedia', 'A', /*                    */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['joinMedia', 'B', /*                    */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['hangUp', 'A', /*                       */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['hangUp', 'B', /*                       */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['sendChannelMessage[caller]', 'A', /*   */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['sendChannelMessage[caller]', 'B', /*   */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['reportMediaSettings', 'A', /*          */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['reportMediaSettings', 'B', /*          */ 'O    O    O    O    O    O    O    O    O    O    O'],
  // ---- chat, the agent's side (GATEWAY, or MERCHANT / CRM of that merchant; ADMIN)
  ['sendChannelMessage[agent]', 'A', /*    */ 'U    O    O    O    F    F    F    F    O    O    F'],
  ['sendChannelMessage[agent]', 'B', /*    */ 'U    O    F    F    F    O    O    F    O    F    F'],
  // ---- mutations: gateway progress (GATEWAY, and ADMIN)
  ['reportRinging', 'A', /*                */ 'U    O    F    F    F    F    F    F    O    F    F'],
  ['reportRinging', 'B', /*                */ 'U    O    F    F    F    F    F    F    O    F    F'],
  ['reportAnswered', 'A', /*               */ 'U    O    F    F    F    F    F    F    O    F    F'],
  ['reportAnswered', 'B', /*               */ 'U    O    F    F    F    F    F    F    O    F    F'],
  ['reportDtmf', 'A', /*                   */ 'U    O    F    F    F    F    F    F    O    F    F'],
  ['reportDtmf', 'B', /*                   */ 'U    O    F    F    F    F    F    F    O    F    F'],
  ['reportTerminated', 'A', /*             */ 'U    O    F    F    F    F    F    F    O    F    F'],
  ['reportTerminated', 'B', /*             */ 'U    O    F    F    F    F    F    F    O    F    F'],
  // ---- subscriptions (graphql-ws)
  ['callEvents', 'A', /*                   */ 'U    O    O    O    O    F    F    F    F    O    F'],
  ['callEvents', 'B', /*                   */ 'U    O    F    F    F    O    O    O    F    F    F'],
  ['screenPops', 'A', /*                   */ 'U    O    O    O    F    F    F    F    F    O    H'],
  ['screenPops', 'B', /*                   */ 'U    O    F    F    F    O    O    F    F    F    F'],
  ['replayCallEvents', 'A', /*             */ 'U    O    F    F    O    F    F    F    F    F    F'],
  ['replayCallEvents', 'B', /*             */ 'U    O    F    F    F    F    F    O    F    F    F'],
  ['replayCallEvents[no merchant]', 'A', /**/ 'U    O    F    F    O    F    F    H    F    F    F'],
  ['replayCallEvents[no merchant]', 'B', /**/ 'U    O    F    F    H    F    F    O    F    F    F'],
  ['customerSession', 'A', /*              */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['customerSession', 'B', /*              */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['gatewayPortChanges', '-', /*           */ 'U    O    F    F    F    F    F    F    F    F    F'],
  ['queueChanges', 'A', /* its main center */ 'U    O    O    O    F    F    F    F    F    O    F'],
  ['queueChanges', 'B', /*                 */ 'U    O    F    F    F    O    O    F    F    F    F'],
  // ---- the people's pages (issue 12): who am I, the dashboard's reads, the console's buttons
  ['viewer', '-', /*                       */ 'U    O    O    O    O    O    O    O    O    O    O'],
  ['merchant', 'A', /*                     */ 'U    O    O    O    O    F    F    F    F    O    O'],
  ['merchant', 'B', /*                     */ 'U    O    F    F    F    O    O    O    F    F    F'],
  ['callCenterStats', 'A', /*              */ 'U    O    O    F    O    F    F    F    F    F    F'],
  ['callCenterStats', 'B', /*              */ 'U    O    F    F    F    O    F    O    F    F    F'],
  ['rerateDryRun', 'A', /*                 */ 'U    O    O    F    O    F    F    F    F    F    F'],
  ['rerateDryRun', 'B', /*                 */ 'U    O    F    F    F    O    F    O    F    F    F'],
  ['createChargesExport', 'A', /*          */ 'U    O    O    F    O    F    F    F    F    F    F'],
  ['createChargesExport', 'B', /*          */ 'U    O    F    F    F    O    F    O    F    F    F'],
  ['setCallCenterKind', 'A', /*            */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['setCallCenterKind', 'B', /*            */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['setCallCenterIdentityDtmf', 'A', /*    */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['setCallCenterIdentityDtmf', 'B', /*    */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['callContextBySessionNumber', 'A', /*   */ 'U    O    O    O    O    H    H    H    F    O    H'],
  ['callContextBySessionNumber', 'B', /*   */ 'U    O    H    H    H    O    O    O    F    H    H'],
  ['assignDid', 'A', /*                    */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['assignDid', 'B', /*                    */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['releaseDid', 'A', /*                   */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['releaseDid', 'B', /*                   */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['dids', 'A', /*                         */ 'U    O    O    O    O    F    F    F    F    O    O'],
  ['dids', 'B', /*                         */ 'U    O    F    F    F    O    O    O    F    F    F'],
  ['queue', 'A', /* its main center       */ 'U    O    O    O    F    F    F    F    F    O    F'],
  ['queue', 'B', /*                        */ 'U    O    F    F    F    O    O    F    F    F    F'],
  ['answerCall', 'A', /* a browser call    */ 'U    O    F    O    F    F    F    F    F    F    O'],
  ['answerCall', 'B', /*                   */ 'U    O    F    F    F    F    O    F    F    F    F'],
  ['agentHangUp', 'A', /* a browser call   */ 'U    O    F    O    F    F    F    F    F    F    O'],
  ['agentHangUp', 'B', /*                  */ 'U    O    F    F    F    F    O    F    F    F    F'],
  // [offered]: a call answered at the second desk and offered (BLIND) to the browser center: its agents may
  // take or decline it, not end the call of the agent who holds it
  ['agentHangUp[offered]', 'A', /*         */ 'U    O    F    O    F    F    F    F    F    F    F'],
  ['agentHangUp[offered]', 'B', /*         */ 'U    O    F    F    F    F    O    F    F    F    F'],
  ['agentCommand', 'A', /* the live call   */ 'U    O    F    O    F    F    F    F    F    O    F'],
  ['agentCommand', 'B', /*                 */ 'U    O    F    F    F    F    O    F    F    F    F'],
  ['agentMediaJoin', 'A', /*               */ 'U    O    F    O    F    F    F    F    F    O    F'],
  ['agentMediaJoin', 'B', /*               */ 'U    O    F    F    F    F    O    F    F    F    F'],
  // ---- transfer from the console (issue 25): CRM or AGENT key of the call's merchant (ADMIN), an AGENT
  // key only on a call its center is on. transferCall / consultTransfer: a browser call at the browser
  // center, held by the key asking when it may take it; the others: a call offered (BLIND) from the
  // merchant's second browser center to its browser center, the one of AGENT(A*)
  ['transferCall', 'A', /*                 */ 'U    O    F    O    F    F    F    F    F    F    O'],
  ['transferCall', 'B', /*                 */ 'U    O    F    F    F    F    O    F    F    F    F'],
  ['consultTransfer', 'A', /*              */ 'U    O    F    O    F    F    F    F    F    F    O'],
  ['consultTransfer', 'B', /*              */ 'U    O    F    F    F    F    O    F    F    F    F'],
  ['completeTransfer', 'A', /*             */ 'U    O    F    O    F    F    F    F    F    F    O'],
  ['completeTransfer', 'B', /*             */ 'U    O    F    F    F    F    O    F    F    F    F'],
  ['cancelTransfer', 'A', /*               */ 'U    O    F    O    F    F    F    F    F    F    O'],
  ['cancelTransfer', 'B', /*               */ 'U    O    F    F    F    F    O    F    F    F    F'],
  ['callTransfers', 'A', /*                */ 'U    O    F    O    F    F    F    F    F    F    O'],
  ['callTransfers', 'B', /*                */ 'U    O    F    F    F    F    O    F    F    F    F'],
  ['transferColleagues', 'A', /*           */ 'U    O    F    O    F    F    F    F    F    F    O'],
  ['transferColleagues', 'B', /*           */ 'U    O    F    F    F    F    O    F    F    F    F'],
  // ---- callbacks (issue 25): the shopper books and cancels with its click's call token (the key presented
  // changes nothing; another click's token finds nothing); the merchant lists, cancels and sets prefixes
  ['requestCallback', 'A', /*              */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['requestCallback', 'B', /*              */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['cancelCallback', 'A', /*               */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['cancelCallback', 'B', /*               */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['cancelCallback[other click]', 'A', /*  */ 'H    H    H    H    H    H    H    H    H    H    H'],
  ['cancelCallback[other click]', 'B', /*  */ 'H    H    H    H    H    H    H    H    H    H    H'],
  // answer/decline a callback to the browser: OK is the token's own callback reached (PENDING here, so the
  // state's refusal CONFLICT CALLBACK_NOT_RINGING; callbacks.e2e.ts answers one that rings)
  ['answerCallback', 'A', /*               */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['answerCallback', 'B', /*               */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['answerCallback[other click]', 'A', /*  */ 'H    H    H    H    H    H    H    H    H    H    H'],
  ['answerCallback[other click]', 'B', /*  */ 'H    H    H    H    H    H    H    H    H    H    H'],
  ['declineCallback', 'A', /*              */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['declineCallback', 'B', /*              */ 'O    O    O    O    O    O    O    O    O    O    O'],
  ['declineCallback[other click]', 'A', /* */ 'H    H    H    H    H    H    H    H    H    H    H'],
  ['declineCallback[other click]', 'B', /* */ 'H    H    H    H    H    H    H    H    H    H    H'],
  ['callbacks', 'A', /*                    */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['callbacks', 'B', /*                    */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['cancelMerchantCallback', 'A', /*       */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['cancelMerchantCallback', 'B', /*       */ 'U    O    F    F    F    O    F    F    F    F    F'],
  // [other]: merchantId names the merchant other than the callback's: that merchant's key finds nothing
  ['cancelMerchantCallback[other]', 'A', /**/ 'U    H    F    F    F    H    F    F    F    F    F'],
  ['cancelMerchantCallback[other]', 'B', /**/ 'U    H    H    F    F    F    F    F    F    F    F'],
  ['setCallbackPrefixes', 'A', /*          */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['setCallbackPrefixes', 'B', /*          */ 'U    O    F    F    F    O    F    F    F    F    F'],
  // ---- webhooks for CRMs (ADMIN or that MERCHANT; the event type list: any MERCHANT)
  ['webhookEventTypes', '-', /*            */ 'U    O    O    F    F    O    F    F    F    F    F'],
  ['webhookEndpoints', 'A', /*             */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['webhookEndpoints', 'B', /*             */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['webhookDeliveries', 'A', /*            */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['webhookDeliveries', 'B', /*            */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['createWebhookEndpoint', 'A', /*        */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['createWebhookEndpoint', 'B', /*        */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['updateWebhookEndpoint', 'A', /*        */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['updateWebhookEndpoint', 'B', /*        */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['rotateWebhookSecret', 'A', /*          */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['rotateWebhookSecret', 'B', /*          */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['disableWebhookEndpoint', 'A', /*       */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['disableWebhookEndpoint', 'B', /*       */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['enableWebhookEndpoint', 'A', /*        */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['enableWebhookEndpoint', 'B', /*        */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['replayWebhookDelivery', 'A', /*        */ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['replayWebhookDelivery', 'B', /*        */ 'U    O    F    F    F    O    F    F    F    F    F'],
  ['replayFailedWebhookDeliveries', 'A', /**/ 'U    O    O    F    F    F    F    F    F    F    F'],
  ['replayFailedWebhookDeliveries', 'B', /**/ 'U    O    F    F    F    O    F    F    F    F    F'],
  // ---- operations (issue 14): the read side's dead letters (ADMIN: all; MERCHANT: its own)
  ['deadLetters', 'A', /*                  */ 'U    O    O    F    F    H    F    F    F    F    F'],
  ['deadLetters', 'B', /*                  */ 'U    O    H    F    F    O    F    F    F    F    F'],
  ['replayDeadLetter', 'A', /*             */ 'U    O    O    F    F    H    F    F    F    F    F'],
  ['replayDeadLetter', 'B', /*             */ 'U    O    H    F    F    O    F    F    F    F    F'],
];

interface Row {
  op: string;
  target: M | null;
  principal: Principal;
  expected: Outcome;
}

/** The table as rows: one per cell. */
const ROWS: Row[] = MATRIX.flatMap(([op, target, cells]) => {
  const codes = cells.trim().split(/\s+/);
  if (codes.length !== PRINCIPALS.length) throw new Error(`table row ${op}/${target} has ${codes.length} cells`);
  return codes.map((c, i) => {
    const expected = CODE[c];
    if (!expected) throw new Error(`table row ${op}/${target}: unknown cell "${c}"`);
    return { op, target: target === '-' ? null : target, principal: PRINCIPALS[i]!, expected };
  });
});

/** What each operation is applied to, for the test names. */
const RESOURCE: Record<string, string> = {
  call: 'call',
  calls: 'filter merchant',
  'calls[unfiltered]': 'a call of',
  callTimeline: 'call',
  callContextByAni: 'ANI of the live call of',
  'callContextByAni[at]': 'ANI of the live call of',
  billingSummary: 'billing of',
  gateway: 'the gateway',
  apiKeys: 'the API keys of',
  createMerchant: 'a new merchant',
  createApiKey: 'a CRM key for',
  createGateway: 'a new gateway',
  revokeApiKey: 'a key of',
  addCallCenter: 'a center for',
  redirectCallCenter: 'a center of',
  createLink: 'a link for',
  setRatePlan: 'the rate plan of',
  setDtmfCommand: 'the DTMF table of',
  setLinkQueuePolicy: 'the queue policy of a link of',
  recordDownload: 'a link of',
  initiateCall: 'the call token of',
  joinMedia: 'the call token of',
  hangUp: 'the call token of',
  'sendChannelMessage[caller]': 'the call token of',
  reportMediaSettings: 'the call token of',
  'sendChannelMessage[agent]': 'call',
  reportRinging: 'call',
  reportAnswered: 'call',
  reportDtmf: 'call',
  reportTerminated: 'call',
  callEvents: 'events of',
  screenPops: 'pops of',
  replayCallEvents: 'history of',
  'replayCallEvents[no merchant]': 'an event of',
  customerSession: 'the call token of',
  gatewayPortChanges: 'the gateway',
  viewer: 'the key itself',
  merchant: 'merchant',
  callCenterStats: 'center stats of',
  rerateDryRun: 'a what-if for',
  createChargesExport: 'a CSV export of',
  setCallCenterKind: 'a center of',
  setCallCenterIdentityDtmf: 'a center of',
  callContextBySessionNumber: 'the session number of the live call of',
  assignDid: 'a number for',
  releaseDid: 'a number of',
  dids: 'the numbers of',
  queue: 'the queue of the main center of',
  queueChanges: 'the live queue of the main center of',
  answerCall: "browser call",
  agentHangUp: 'browser call',
  'agentHangUp[offered]': 'a call offered to the browser center of',
  agentCommand: 'call',
  agentMediaJoin: 'call',
  transferCall: 'browser call',
  consultTransfer: 'browser call',
  completeTransfer: 'a transfer to the browser center of',
  cancelTransfer: 'a transfer to the browser center of',
  callTransfers: 'the transfers of a call of',
  transferColleagues: 'the colleagues on a call of',
  requestCallback: 'the call token of',
  cancelCallback: 'the call token of',
  'cancelCallback[other click]': "another click's token, a callback of",
  answerCallback: 'the call token of, its browser callback of',
  'answerCallback[other click]': "another click's token, a browser callback of",
  declineCallback: 'the call token of, its browser callback of',
  'declineCallback[other click]': "another click's token, a browser callback of",
  callbacks: 'the callbacks of',
  cancelMerchantCallback: 'a callback of',
  'cancelMerchantCallback[other]': 'the other merchant named, a callback of',
  setCallbackPrefixes: 'the callback prefixes of',
  webhookEventTypes: 'the event types',
  webhookEndpoints: 'the endpoints of',
  webhookDeliveries: 'the deliveries of the endpoint of',
  createWebhookEndpoint: 'an endpoint for',
  updateWebhookEndpoint: 'the endpoint of',
  rotateWebhookSecret: 'the endpoint of',
  disableWebhookEndpoint: 'the endpoint of',
  enableWebhookEndpoint: 'the endpoint of',
  replayWebhookDelivery: 'a delivery of',
  replayFailedWebhookDeliveries: 'the endpoint of',
  deadLetters: 'a dead letter of',
  replayDeadLetter: 'a dead letter of',
};
const nameOf = (r: Row) => {
  const what = RESOURCE[r.op] ?? r.op;
  const target = r.target === null ? what : what === 'call' || what === 'browser call' ? `${r.target}'s ${what}` : `${what} ${r.target}`;
  return `${r.principal} × ${r.op}(${target}) → ${r.expected}`;
};

// ------------------------------------------------------------------------------------------------
// Fixture: one server, two merchants set up once.
// ------------------------------------------------------------------------------------------------

interface MerchantFixture {
  id: string;
  center: string;
  spareCenter: string;
  link: string;
  /** A BROWSER (PC-to-PC) center and a link to it: its calls ring in the console. */
  browserCenter: string;
  browserLink: string;
  /** A second BROWSER center, a link to it and an AGENT key of it (its key id too): transfers go between the two. */
  deskCenter: string;
  deskLink: string;
  deskAgent: { key: string; id: string };
  /** A PENDING callback (booked for tomorrow from a click of the browser link). */
  callback: string;
  /** AGENT keys bound to the main center and to the browser center. */
  keys: { MERCHANT: string; CRM: string; ANALYST: string; AGENT: string; 'AGENT*': string };
  /** An ANSWERED call holding a port for the whole run (its ANI is looked up), with chat channel 12 open. */
  liveCall: { id: string; token: string; ani: string; firstPosition: string };
  /** A TERMINATED call: repeated gateway reports on it are accepted and change nothing. */
  endedCall: string;
  /** A webhook endpoint (to a closed local port: its deliveries are retried) and one of its deliveries. */
  webhook: { endpoint: string; delivery: string };
  /** The id of a dead letter of this merchant (an event the merchants view cannot apply). */
  deadLetter: string;
}

let server: ServerProcess;
let gatewayKey = '';
let gatewayId = '';
const fx = {} as Record<M, MerchantFixture>;
const wsClients = new Map<Principal, Client>();
let aniCounter = 0;
/** An instant while both live calls hold their ports: the past look-up `callContextByAni(at:)` uses it. */
let setUpAt = '';

const admin = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, ADMIN_KEY);
const gw = (q: string, v: Record<string, unknown> = {}) => gql(server.url, q, v, gatewayKey);

/** The id part of a key `wd.<id>.<secret>`: what events and transfers name the agent by. */
const keyIdOf = (key: string) => key.split('.')[1]!;

const keyOf = (p: Principal): string | undefined => {
  if (p === 'anonymous') return undefined;
  if (p === 'ADMIN') return ADMIN_KEY;
  if (p === 'GATEWAY') return gatewayKey;
  if (p === 'AGENT(A)') return fx.A.keys.AGENT;
  if (p === 'AGENT(A*)') return fx.A.keys['AGENT*'];
  const m = /^(MERCHANT|CRM|ANALYST)\(([AB])\)$/.exec(p)!;
  return fx[m[2] as M].keys[m[1] as 'MERCHANT' | 'CRM' | 'ANALYST'];
};

const wsOf = (p: Principal): Client => {
  let c = wsClients.get(p);
  if (!c) {
    c = wsClient(server.wsUrl, keyOf(p));
    wsClients.set(p, c);
  }
  return c;
};

/** The session number of each merchant's calls (issue 23: callContextBySessionNumber). */
const SESSION: Record<M, string> = { A: '900001', B: '900002' };
const DID: Record<M, string> = { A: '+33100000501', B: '+33100000502' };
const RELEASED_DID: Record<M, string> = { A: '+33100000511', B: '+33100000512' };

/** A click on one of `m`'s links: a call (DOWNLOADED) and its call token. */
const downloadFrom = async (m: M, linkId: string, extra: Record<string, string>) =>
  (
    await gql<{ recordDownload: { callId: string; callToken: string } }>(server.url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, {
      i: { merchantId: fx[m].id, linkId, ...extra },
    })
  ).recordDownload;

const download = (m: M) => downloadFrom(m, fx[m].link, { pageUrl: 'https://shop.example/p/1', customerId: `cust-${m}`, sessionId: SESSION[m] });

/** A click on a browser link of `m` (its browser center's by default). */
const click = (m: M, linkId = fx[m].browserLink) => downloadFrom(m, linkId, { pageUrl: 'https://shop.example/p/3', customerId: `cust-${m}` });

const initiate = async (token: string) =>
  (await gql<{ initiateCall: { id: string; ani: string } }>(server.url, `mutation($t: String!) { initiateCall(callToken: $t) { id ani } }`, { t: token })).initiateCall;

/** A call of `m` to a browser center (its browser center by default): it rings in the console at once (no port). */
const browserCall = async (m: M, linkId = fx[m].browserLink) => {
  const d = await click(m, linkId);
  const { state } = (await gql<{ initiateCall: { state: string } }>(server.url, `mutation($t: String!) { initiateCall(callToken: $t) { state } }`, { t: d.callToken })).initiateCall;
  assert.equal(state, 'RINGING', 'a browser call rings at initiation');
  return d;
};

const hangUp = (token: string) => gql(server.url, `mutation($t: String!) { hangUp(callToken: $t) { state } }`, { t: token });

const setUpMerchant = async (name: string): Promise<MerchantFixture> => {
  const { createMerchant } = await admin(`mutation($n: String!) { createMerchant(input: { name: $n }) { id } }`, { n: name });
  const id = createMerchant.id as string;
  const center = async (label: string) =>
    (
      await admin(
        `mutation($m: ID!, $n: String!) { addCallCenter(input: { merchantId: $m, name: $n, phoneNumber: "+12125550100", timeZone: "America/New_York", capacity: 100, region: "us-east" }) { id } }`,
        { m: id, n: label },
      )
    ).addCallCenter.id as string;
  const main = await center(`${name} main`);
  const spare = await center(`${name} spare`);
  const { createLink } = await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "Call us", callCenterIds: [$c] }) { id } }`, { m: id, c: main });
  const browserDesk = async (label: string) => {
    const c = (
      await admin(
        `mutation($m: ID!, $n: String!) { addCallCenter(input: { merchantId: $m, name: $n, phoneNumber: "+12125550199", timeZone: "America/New_York", capacity: 100, region: "us-east", kind: BROWSER }) { id } }`,
        { m: id, n: label },
      )
    ).addCallCenter.id as string;
    const l = (await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "Talk in the browser", callCenterIds: [$c] }) { id } }`, { m: id, c })).createLink.id as string;
    return [c, l] as const;
  };
  const [browser, browserLink] = await browserDesk('desk');
  const [deskCenter, deskLink] = await browserDesk('second desk');
  await admin(
    `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "EUR", connectionFeeMinor: 10, ratePerMinuteMinor: 6, firstIncrementSeconds: 60, nextIncrementSeconds: 60 }) }`,
    { m: id },
  );
  const keys = {} as MerchantFixture['keys'];
  for (const role of ['MERCHANT', 'CRM', 'ANALYST'] as const)
    keys[role] = (await admin(`mutation($r: Role!, $m: ID) { createApiKey(role: $r, merchantId: $m) { key } }`, { r: role, m: id })).createApiKey.key;
  const { createWebhookEndpoint } = await admin(`mutation($m: ID!) { createWebhookEndpoint(input: { merchantId: $m, url: "http://127.0.0.1:9/hook", eventTypes: ["CallInitiated"] }) { endpoint { id } } }`, { m: id });
  const agentKey = async (center: string) =>
    (await admin(`mutation($m: ID, $c: ID) { createApiKey(role: AGENT, merchantId: $m, callCenterId: $c) { key } }`, { m: id, c: center })).createApiKey.key as string;
  keys.AGENT = await agentKey(main);
  keys['AGENT*'] = await agentKey(browser);
  const deskKey = await agentKey(deskCenter);
  return {
    id,
    center: main,
    spareCenter: spare,
    browserCenter: browser,
    browserLink,
    deskCenter,
    deskLink,
    deskAgent: { key: deskKey, id: keyIdOf(deskKey) },
    callback: '',
    link: createLink.id,
    keys,
    liveCall: { id: '', token: '', ani: '', firstPosition: '' },
    endedCall: '',
    webhook: { endpoint: createWebhookEndpoint.endpoint.id, delivery: '' },
    deadLetter: '',
  };
};

/** Places a call of `m` through download → initiate → ringing → answered, and one that ends at once. */
const placeCalls = async (m: M) => {
  const live = await download(m);
  const { ani } = await initiate(live.callToken);
  await gw(`mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "setup-r") { state } }`, { id: live.callId });
  await gw(`mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "setup-a") { state } }`, { id: live.callId });
  // The agent keys #12#: chat channel 12 opens.
  await gw(`mutation($id: ID!) { reportDtmf(callId: $id, digits: "#12#", gatewayEventId: "setup-d") { state } }`, { id: live.callId });
  const ended = await download(m);
  await hangUp(ended.callToken);
  fx[m].liveCall = { id: live.callId, token: live.callToken, ani, firstPosition: '' };
  fx[m].endedCall = ended.callId;
};

// ------------------------------------------------------------------------------------------------
// How each operation is run for one principal and target, and what its answer means.
// ------------------------------------------------------------------------------------------------

type Observed = Outcome | `unexpected: ${string}`;
interface Answer {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/** The outcome of an HTTP answer: its error code, else what `judge` makes of the data. */
const classify = (r: Answer, judge: (data: Record<string, any>) => Observed = () => 'OK'): Observed => {
  if (r.errors?.length) {
    const code = r.errors[0]!.extensions?.code;
    return code === 'FORBIDDEN' || code === 'UNAUTHENTICATED' ? code : `unexpected: ${code}: ${r.errors[0]!.message}`;
  }
  if (!r.data) return 'unexpected: no data';
  return judge(r.data);
};

const http = (p: Principal, query: string, variables: Record<string, unknown> = {}) => gqlRaw(server.url, query, variables, keyOf(p));

/** A scoped principal must never receive a row of another merchant, whatever the outcome. */
const scopeOf = (p: Principal): string | null => {
  const m = /\(([AB])\*?\)$/.exec(p);
  return m ? fx[m[1] as M].id : null;
};
const leak = (p: Principal, merchantIds: string[]): Observed | null => {
  const scope = scopeOf(p);
  const foreign = scope ? merchantIds.filter((id) => id !== scope) : [];
  return foreign.length ? `unexpected: leaked rows of ${foreign.join(', ')}` : null;
};

const FROM = '2000-01-01T00:00:00Z';
const TO = '2100-01-01T00:00:00Z';

type Runner = (p: Principal, t: M | null) => Promise<Observed>;

/** classify, with NOT_FOUND read as HIDDEN: another merchant's (or another click's) resource answers as a missing one. */
const classifyHiding = (r: Answer, judge: (data: Record<string, any>) => Observed): Observed => (r.errors?.[0]?.extensions?.code === 'NOT_FOUND' ? 'HIDDEN' : classify(r, judge));

const otherOf = (m: M): M => (m === 'A' ? 'B' : 'A');

const agentHangUp = async (p: Principal, callId: string) =>
  classify(await http(p, `mutation($id: ID!) { agentHangUp(callId: $id) { id state terminatedBy } }`, { id: callId }), (d) =>
    d.agentHangUp.state === 'TERMINATED' && d.agentHangUp.terminatedBy === 'CALLEE' ? 'OK' : `unexpected: ${JSON.stringify(d.agentHangUp)}`,
  );

// ---- transfers (issue 25)
const ANSWER = `mutation($id: ID!) { answerCall(callId: $id) { state } }`;
const TRANSFER = 'transferId mode status toCallCenterId toAgent';

/** Runs `run` on a fresh call, then ends the call (its open transfer is cancelled CALL_ENDED). */
const ending = async <C extends { callToken: string }>(call: C, run: (c: C) => Promise<Observed>): Promise<Observed> => {
  try {
    return await run(call);
  } finally {
    await hangUp(call.callToken);
  }
};

/**
 * A browser call of `m` at its browser center, taken in the console by `p` when `p` may take it, else by
 * that center's agent: only the agent holding a call may transfer it, so an authorised key's transfer is
 * not refused for a domain reason (TRANSFER_NOT_CALL_AGENT) and a refused one is refused by its scope.
 */
const heldCall = async (m: M, p: Principal) => {
  const call = await browserCall(m);
  if ((await gqlRaw(server.url, ANSWER, { id: call.callId }, keyOf(p))).errors?.length) await gql(server.url, ANSWER, { id: call.callId }, fx[m].keys['AGENT*']);
  return call;
};

/** A browser call of `m` answered at its second desk by the desk's agent and offered (BLIND) to its browser center: an OPEN transfer. */
const offeredCall = async (m: M) => {
  const call = await browserCall(m, fx[m].deskLink);
  const desk = (q: string, v: Record<string, unknown>) => gql(server.url, q, v, fx[m].deskAgent.key);
  await desk(ANSWER, { id: call.callId });
  const { transferCall } = await desk(`mutation($c: ID!, $to: ID!) { transferCall(callId: $c, toCallCenterId: $to) { transferId } }`, { c: call.callId, to: fx[m].browserCenter });
  return { ...call, transferId: transferCall.transferId as string };
};

/** The verdict of a transfer mutation, held against its effect: the call's transfers' statuses as ADMIN reads them, `ok` after OK, `refused` after a refusal. */
const transferEffect = async (callId: string, observed: Observed, ok: string[], refused: string[]): Promise<Observed> => {
  const statuses = ((await admin(`query($c: ID!) { callTransfers(callId: $c) { status } }`, { c: callId })).callTransfers as Array<{ status: string }>).map((x) => x.status);
  return statuses.join() === (observed === 'OK' ? ok : refused).join() ? observed : `unexpected: transfers [${statuses.join()}] after ${observed}`;
};

// ---- callbacks (issue 25)
const CANCEL_BY_SHOPPER = `mutation($t: String!, $c: ID!) { cancelCallback(callToken: $t, callbackId: $c) { id state } }`;
const CANCEL_BY_MERCHANT = `mutation($m: ID!, $c: ID!) { cancelMerchantCallback(merchantId: $m, callbackId: $c) { id state } }`;
let bookings = 0;

/**
 * Asks, as `p`, for a callback tomorrow from the click of `callToken`, from a client address
 * (X-Forwarded-For, believed from loopback: WEBDIAL_TRUST_PROXY) and to a number of its own: at most 5
 * bookings an hour per address and 3 per number, and every cell books.
 */
const bookAs = async (p: Principal, callToken: string, toBrowser = false): Promise<Answer> => {
  const n = ++bookings;
  const key = keyOf(p);
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `198.18.${n >> 8}.${n & 255}`, ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({
      query: `mutation($t: String!, $w: CallbackWhenInput!, $p: String, $b: Boolean) { requestCallback(callToken: $t, when: $w, phoneNumber: $p, toBrowser: $b) { id state callCenterId } }`,
      variables: { t: callToken, w: { kind: 'AT', at: new Date(Date.now() + 86_400_000).toISOString() }, ...(toBrowser ? { b: true } : { p: `+1212555${2000 + n}` }) },
    }),
  });
  return (await res.json()) as Answer;
};

/** A PENDING callback of `m`, booked from a click of its browser link, and that click's token. */
const booked = async (m: M, toBrowser = false) => {
  const { callToken } = await click(m);
  const r = await bookAs('anonymous', callToken, toBrowser);
  assert.equal(r.errors, undefined, JSON.stringify(r.errors));
  return { id: (r.data!.requestCallback as { id: string }).id, callToken };
};

const ANSWER_CALLBACK = `mutation($t: String!, $c: ID!) { answerCallback(callToken: $t, callbackId: $c) { callId } }`;
const DECLINE_CALLBACK = `mutation($t: String!, $c: ID!) { declineCallback(callToken: $t, callbackId: $c) { id } }`;

/**
 * answerCallback / declineCallback as `p` on a PENDING callback to the browser of `m` (booked for
 * tomorrow: it does not ring), with its click's token (reached: the state's refusal, CONFLICT
 * CALLBACK_NOT_RINGING, is OK here) or another click's (NOT_FOUND: HIDDEN). It stays PENDING either way.
 */
const browserCallbackOp = async (p: Principal, m: M, query: string, otherClick: boolean): Promise<Observed> => {
  const { id, callToken } = await booked(m, true);
  const token = otherClick ? (await click(m)).callToken : callToken;
  const r = await http(p, query, { t: token, c: id });
  const ext = r.errors?.[0]?.extensions as { code?: string; reason?: string } | undefined;
  const observed: Observed = ext?.code === 'CONFLICT' && ext.reason === 'CALLBACK_NOT_RINGING' ? 'OK' : classifyHiding(r, (d) => `unexpected: ${JSON.stringify(d)}`);
  const pending = async () => ((await admin(`query($m: ID!) { callbacks(merchantId: $m, status: PENDING, first: 100) { items { id } } }`, { m: fx[m].id })).callbacks.items as Array<{ id: string }>).some((c) => c.id === id);
  if (!(await eventually(pending, 5_000, `callback ${id} PENDING`).catch(() => false))) return `unexpected: callback ${id} not PENDING after ${observed}`;
  return cancelled(m, id, observed);
};

/** The verdict of a cancel, after which the callback is cancelled whatever it was (a short PENDING list for `callbacks`). */
const cancelled = async (m: M, id: string, observed: Observed): Promise<Observed> => {
  await admin(CANCEL_BY_MERCHANT, { m: fx[m].id, c: id });
  return observed;
};

const runners: Record<string, Runner> = {
  // ---- queries
  call: async (p, t) => {
    const id = fx[t!].liveCall.id;
    return classify(await http(p, `query($id: ID!) { call(id: $id) { id merchantId } }`, { id }), (d) => {
      if (d.call === null) return 'HIDDEN';
      return d.call.id === id ? leak(p, [d.call.merchantId]) ?? 'OK' : `unexpected: ${JSON.stringify(d.call)}`;
    });
  },
  calls: async (p, t) =>
    classify(await http(p, `query($m: ID) { calls(filter: { merchantId: $m }, first: 500) { edges { node { id merchantId } } } }`, { m: fx[t!].id }), (d) => {
      const nodes = (d.calls.edges as Array<{ node: { id: string; merchantId: string } }>).map((e) => e.node);
      const leaked = leak(p, nodes.map((n) => n.merchantId));
      if (leaked) return leaked;
      if (nodes.some((n) => n.merchantId !== fx[t!].id)) return 'unexpected: the filter let another merchant through';
      if (nodes.some((n) => n.id === fx[t!].liveCall.id)) return 'OK';
      // An AGENT key of another center of the merchant sees that center's calls, not the target.
      return nodes.length === 0 || p.startsWith('AGENT') ? 'HIDDEN' : 'unexpected: the target call is missing';
    }),
  'calls[unfiltered]': async (p, t) =>
    classify(await http(p, `{ calls(first: 500) { edges { node { id merchantId } } } }`), (d) => {
      const nodes = (d.calls.edges as Array<{ node: { id: string; merchantId: string } }>).map((e) => e.node);
      return leak(p, nodes.map((n) => n.merchantId)) ?? (nodes.some((n) => n.id === fx[t!].liveCall.id) ? 'OK' : 'HIDDEN');
    }),
  callTimeline: async (p, t) =>
    classify(await http(p, `query($id: ID!) { callTimeline(callId: $id) { type merchantId callId } }`, { id: fx[t!].liveCall.id }), (d) => {
      const rows = d.callTimeline as Array<{ type: string; merchantId: string; callId: string }>;
      if (rows.length === 0) return 'HIDDEN';
      return leak(p, rows.map((r) => r.merchantId)) ?? (rows[0]!.type === 'CallDownloaded' && rows.every((r) => r.callId === fx[t!].liveCall.id) ? 'OK' : `unexpected: ${JSON.stringify(rows[0])}`);
    }),
  callContextByAni: async (p, t) =>
    classify(await http(p, `query($a: String!) { callContextByAni(ani: $a) { callId merchantId customerId } }`, { a: fx[t!].liveCall.ani }), (d) => {
      const c = d.callContextByAni as { callId: string; merchantId: string } | null;
      if (c === null) return 'HIDDEN';
      return leak(p, [c.merchantId]) ?? (c.callId === fx[t!].liveCall.id ? 'OK' : `unexpected: ${JSON.stringify(c)}`);
    }),
  'callContextByAni[at]': async (p, t) =>
    classify(await http(p, `query($a: String!, $at: DateTime) { callContextByAni(ani: $a, at: $at) { callId merchantId } }`, { a: fx[t!].liveCall.ani, at: setUpAt }), (d) => {
      const c = d.callContextByAni as { callId: string; merchantId: string } | null;
      if (c === null) return 'HIDDEN';
      return leak(p, [c.merchantId]) ?? (c.callId === fx[t!].liveCall.id ? 'OK' : `unexpected: ${JSON.stringify(c)}`);
    }),
  billingSummary: async (p, t) =>
    classify(await http(p, `query($m: ID!, $f: DateTime!, $t: DateTime!) { billingSummary(merchantId: $m, from: $f, to: $t) { merchantId currency } }`, { m: fx[t!].id, f: FROM, t: TO }), (d) =>
      d.billingSummary.merchantId === fx[t!].id ? 'OK' : `unexpected: ${JSON.stringify(d.billingSummary)}`,
    ),
  gateway: async (p) =>
    classify(await http(p, `query($id: ID!) { gateway(id: $id) { id ports { number } } }`, { id: gatewayId }), (d) =>
      d.gateway?.id === gatewayId ? 'OK' : d.gateway === null ? 'HIDDEN' : `unexpected: ${JSON.stringify(d.gateway)}`,
    ),

  apiKeys: async (p, t) =>
    classify(await http(p, `query($m: ID!) { apiKeys(merchantId: $m) { id role merchantId } }`, { m: fx[t!].id }), (d) => {
      const keys = d.apiKeys as Array<{ merchantId: string | null }>;
      return leak(p, keys.map((k) => k.merchantId ?? 'none')) ?? (keys.length > 0 && keys.every((k) => k.merchantId === fx[t!].id) ? 'OK' : `unexpected: ${JSON.stringify(keys)}`);
    }),

  // ---- operator mutations
  createMerchant: async (p) => classify(await http(p, `mutation { createMerchant(input: { name: "Made by a cell" }) { id } }`), (d) => (d.createMerchant.id ? 'OK' : 'unexpected: no id')),
  createApiKey: async (p, t) =>
    classify(await http(p, `mutation($m: ID) { createApiKey(role: CRM, merchantId: $m) { key role merchantId } }`, { m: fx[t!].id }), (d) =>
      d.createApiKey.merchantId === fx[t!].id ? 'OK' : `unexpected: ${JSON.stringify(d.createApiKey)}`,
    ),
  createGateway: async (p) => {
    const ani = `+1313555${String(++aniCounter).padStart(4, '0')}`;
    return classify(await http(p, `mutation($a: String!) { createGateway(input: { name: "cell", region: "eu-west", ports: [{ number: 1, ani: $a }] }) { id } }`, { a: ani }), (d) =>
      d.createGateway.id ? 'OK' : 'unexpected: no id',
    );
  },
  revokeApiKey: async (p, t) => {
    // A fresh victim per cell, so that each cell is independent of the others.
    const victim = (await admin(`mutation($m: ID) { createApiKey(role: ANALYST, merchantId: $m) { key } }`, { m: fx[t!].id })).createApiKey.key as string;
    const observed = classify(await http(p, `mutation($k: String!) { revokeApiKey(key: $k) }`, { k: victim }), (d) => (d.revokeApiKey === true ? 'OK' : 'unexpected: false'));
    // The effect must match the verdict: a revoked key no longer authenticates; a refused revoke left it working.
    const after = (await gqlRaw(server.url, `{ calls(first: 1) { edges { cursor } } }`, {}, victim)).errors?.[0]?.extensions?.code;
    if (observed === 'OK' && after !== 'UNAUTHENTICATED') return `unexpected: the revoked key still authenticates (${after ?? 'no error'})`;
    if (observed !== 'OK' && after !== undefined) return `unexpected: a refused revoke disabled the key (${after})`;
    return observed;
  },

  // ---- configuration mutations
  addCallCenter: async (p, t) =>
    classify(
      await http(
        p,
        `mutation($m: ID!) { addCallCenter(input: { merchantId: $m, name: "cell", phoneNumber: "+14155550100", timeZone: "Europe/Berlin", capacity: 1, region: "eu-central", weeklyHours: [] }) { id merchantId } }`,
        { m: fx[t!].id },
      ),
      (d) => (d.addCallCenter.merchantId === fx[t!].id ? 'OK' : `unexpected: ${JSON.stringify(d.addCallCenter)}`),
    ),
  redirectCallCenter: async (p, t) =>
    classify(await http(p, `mutation($c: ID!) { redirectCallCenter(callCenterId: $c, toCallCenterId: null) { id redirectedTo } }`, { c: fx[t!].spareCenter }), (d) =>
      d.redirectCallCenter.id === fx[t!].spareCenter && d.redirectCallCenter.redirectedTo === null ? 'OK' : `unexpected: ${JSON.stringify(d.redirectCallCenter)}`,
    ),
  createLink: async (p, t) =>
    classify(await http(p, `mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "cell", callCenterIds: [$c] }) { id merchantId } }`, { m: fx[t!].id, c: fx[t!].spareCenter }), (d) =>
      d.createLink.merchantId === fx[t!].id ? 'OK' : `unexpected: ${JSON.stringify(d.createLink)}`,
    ),
  setRatePlan: async (p, t) =>
    classify(
      await http(
        p,
        `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "EUR", connectionFeeMinor: 10, ratePerMinuteMinor: 6, firstIncrementSeconds: 60, nextIncrementSeconds: 60 }) }`,
        { m: fx[t!].id },
      ),
      (d) => (d.setRatePlan === true ? 'OK' : 'unexpected: false'),
    ),
  setDtmfCommand: async (p, t) =>
    classify(await http(p, `mutation($m: ID!) { setDtmfCommand(merchantId: $m, sequence: "*9", action: VOLUME, argument: "+10") }`, { m: fx[t!].id }), (d) =>
      d.setDtmfCommand === true ? 'OK' : 'unexpected: false',
    ),
  // No policy on a link without one: decided [] (nothing changes for the rows after it), authorised all the same.
  setLinkQueuePolicy: async (p, t) =>
    classify(
      await http(p, `mutation($m: ID!, $l: ID!) { setLinkQueuePolicy(merchantId: $m, linkId: $l, maxWaitSeconds: null, maxLength: null) { id queuePolicy { maxLength } } }`, { m: fx[t!].id, l: fx[t!].link }),
      (d) => (d.setLinkQueuePolicy.id === fx[t!].link && d.setLinkQueuePolicy.queuePolicy === null ? 'OK' : `unexpected: ${JSON.stringify(d.setLinkQueuePolicy)}`),
    ),

  // ---- widget mutations: the key presented changes nothing, the token is what counts
  recordDownload: async (p, t) => {
    const r = await http(p, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, {
      i: { merchantId: fx[t!].id, linkId: fx[t!].link, pageUrl: 'https://shop.example/p/2' },
    });
    const observed = classify(r, (d) => (d.recordDownload.callId && d.recordDownload.callToken ? 'OK' : 'unexpected: no call'));
    if (observed === 'OK') await hangUp((r.data!.recordDownload as { callToken: string }).callToken);
    return observed;
  },
  initiateCall: async (p, t) => {
    const { callId, callToken } = await download(t!);
    const observed = classify(await http(p, `mutation($t: String!) { initiateCall(callToken: $t) { id state } }`, { t: callToken }), (d) =>
      d.initiateCall.id === callId && d.initiateCall.state === 'INITIATED' ? 'OK' : `unexpected: ${JSON.stringify(d.initiateCall)}`,
    );
    await hangUp(callToken); // frees the port
    return observed;
  },
  joinMedia: async (p, t) => {
    const { callToken } = await download(t!);
    const observed = classify(await http(p, `mutation($t: String!) { joinMedia(callToken: $t) { provider } }`, { t: callToken }), (d) =>
      typeof d.joinMedia.provider === 'string' ? 'OK' : `unexpected: ${JSON.stringify(d.joinMedia)}`,
    );
    await hangUp(callToken);
    return observed;
  },
  hangUp: async (p, t) => {
    const { callId, callToken } = await download(t!);
    return classify(await http(p, `mutation($t: String!) { hangUp(callToken: $t) { id state terminatedBy } }`, { t: callToken }), (d) =>
      d.hangUp.id === callId && d.hangUp.state === 'TERMINATED' && d.hangUp.terminatedBy === 'CALLER' ? 'OK' : `unexpected: ${JSON.stringify(d.hangUp)}`,
    );
  },

  reportMediaSettings: async (p, t) =>
    classify(
      await http(p, `mutation($t: String!, $i: CallerMediaSettingsInput!) { reportMediaSettings(callToken: $t, input: $i) }`, {
        t: fx[t!].liveCall.token,
        i: { echoCancellation: false, noiseSuppression: true, autoGainControl: true, echoSuppression: false, choice: 'HEADSET' },
      }),
      (d) => (d.reportMediaSettings === true ? 'OK' : 'unexpected: false'),
    ),
  'sendChannelMessage[caller]': async (p, t) =>
    classify(await http(p, `mutation($t: String!) { sendChannelMessage(callToken: $t, channelId: "12", text: "from the caller") }`, { t: fx[t!].liveCall.token }), (d) =>
      d.sendChannelMessage === true ? 'OK' : 'unexpected: false',
    ),
  'sendChannelMessage[agent]': async (p, t) =>
    classify(await http(p, `mutation($id: ID!) { sendChannelMessage(callId: $id, channelId: "12", text: "from the agent") }`, { id: fx[t!].liveCall.id }), (d) =>
      d.sendChannelMessage === true ? 'OK' : 'unexpected: false',
    ),

  // ---- gateway mutations: repeated reports on calls that passed the stage are accepted, change nothing
  reportRinging: async (p, t) =>
    classify(await http(p, `mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "cell-r") { id state } }`, { id: fx[t!].liveCall.id }), (d) =>
      d.reportRinging.state === 'ANSWERED' ? 'OK' : `unexpected: ${JSON.stringify(d.reportRinging)}`,
    ),
  reportAnswered: async (p, t) =>
    classify(await http(p, `mutation($id: ID!) { reportAnswered(callId: $id, gatewayEventId: "cell-a") { id state } }`, { id: fx[t!].liveCall.id }), (d) =>
      d.reportAnswered.state === 'ANSWERED' ? 'OK' : `unexpected: ${JSON.stringify(d.reportAnswered)}`,
    ),
  reportDtmf: async (p, t) =>
    classify(await http(p, `mutation($id: ID!) { reportDtmf(callId: $id, digits: "1", gatewayEventId: "cell-d") { id state dtmf { digits } } }`, { id: fx[t!].liveCall.id }), (d) =>
      d.reportDtmf.state === 'ANSWERED' && (d.reportDtmf.dtmf as Array<{ digits: string }>).some((x) => x.digits === '1') ? 'OK' : `unexpected: ${JSON.stringify(d.reportDtmf)}`,
    ),
  reportTerminated: async (p, t) =>
    classify(
      await http(p, `mutation($id: ID!) { reportTerminated(callId: $id, cause: HANGUP, sipStatus: 200, gatewayEventId: "cell-t") { id state } }`, { id: fx[t!].endedCall }),
      (d) => (d.reportTerminated.state === 'TERMINATED' ? 'OK' : `unexpected: ${JSON.stringify(d.reportTerminated)}`),
    ),

  // ---- subscriptions
  callEvents: async (p, t) => {
    // Resume right after the live call's first event: an allowed subscriber gets its CallInitiated at once.
    const s = subscribe(p, `subscription($m: ID!, $c: ID, $a: String) { callEvents(merchantId: $m, callId: $c, after: $a) { callId merchantId type } }`, {
      m: fx[t!].id,
      c: fx[t!].liveCall.id,
      a: fx[t!].liveCall.firstPosition,
    });
    const r = await s.first;
    if (r.item) return leak(p, [r.item.merchantId]) ?? (r.item.type === 'CallInitiated' && r.item.callId === fx[t!].liveCall.id ? 'OK' : `unexpected: ${JSON.stringify(r.item)}`);
    return r.observed;
  },
  screenPops: async (p, t) => {
    // 3 s for the pop: a key bound to another call center gets none (HIDDEN).
    const s = subscribe(p, `subscription($m: ID!) { screenPops(merchantId: $m) { callId merchantId state customerId } }`, { m: fx[t!].id }, 3000);
    const refused = await s.refusedWithin(400);
    if (refused) return refused;
    // Still open: make a call of the target ring and expect its pop.
    const { callId, callToken } = await download(t!);
    await initiate(callToken);
    await gw(`mutation($id: ID!) { reportRinging(callId: $id, gatewayEventId: "pop") { state } }`, { id: callId });
    const r = await s.first;
    await hangUp(callToken);
    if (r.item) return leak(p, [r.item.merchantId]) ?? (r.item.callId === callId && r.item.state === 'RINGING' ? 'OK' : `unexpected: ${JSON.stringify(r.item)}`);
    return r.observed === 'unexpected: nothing arrived (timeout)' ? 'HIDDEN' : r.observed;
  },
  replayCallEvents: async (p, t) => {
    const s = subscribe(p, `subscription($m: ID, $f: DateTime!, $t: DateTime) { replayCallEvents(merchantId: $m, from: $f, to: $t) { callId merchantId type } }`, {
      m: fx[t!].id,
      f: FROM,
      t: new Date().toISOString(),
    });
    const r = await s.first;
    if (r.item) return leak(p, [r.item.merchantId]) ?? (r.item.merchantId === fx[t!].id ? 'OK' : `unexpected: ${JSON.stringify(r.item)}`);
    return r.observed;
  },
  'replayCallEvents[no merchant]': async (p, t) => {
    // The whole history up to now, no merchant named: a scoped ANALYST gets its own merchant's only.
    const all = await subscribeAll(p, `subscription($f: DateTime!, $t: DateTime) { replayCallEvents(from: $f, to: $t) { callId merchantId } }`, { f: FROM, t: new Date().toISOString() });
    if (typeof all === 'string') return all;
    return leak(p, all.map((e) => e.merchantId)) ?? (all.some((e) => e.callId === fx[t!].liveCall.id) ? 'OK' : 'HIDDEN');
  },
  customerSession: async (p, t) => {
    const { callToken } = await download(t!);
    const s = subscribe(p, `subscription($t: String!) { customerSession(callToken: $t) { kind state } }`, { t: callToken });
    const refused = await s.refusedWithin(400);
    if (refused) return refused;
    await hangUp(callToken);
    const r = await s.first;
    if (r.item) return r.item.kind === 'CALL_STATE' && r.item.state === 'TERMINATED' ? 'OK' : `unexpected: ${JSON.stringify(r.item)}`;
    return r.observed;
  },
  // ---- the people's pages
  viewer: async (p) =>
    classify(await http(p, `{ viewer { role merchantId callCenterId } }`), (d) => {
      const v = d.viewer as { role: string; merchantId: string | null; callCenterId: string | null };
      const role = p.replace(/\(.*$/, '');
      return v.role === role && v.merchantId === (scopeOf(p) ?? null) ? 'OK' : `unexpected: ${JSON.stringify(v)}`;
    }),
  merchant: async (p, t) =>
    classify(await http(p, `query($m: ID!) { merchant(id: $m) { id callCenters { id kind } links { id } } }`, { m: fx[t!].id }), (d) =>
      d.merchant?.id === fx[t!].id && (d.merchant.callCenters as Array<{ kind: string }>).some((c) => c.kind === 'BROWSER') ? 'OK' : `unexpected: ${JSON.stringify(d.merchant)}`,
    ),
  callCenterStats: async (p, t) =>
    classify(await http(p, `query($m: ID!, $f: DateTime!, $t: DateTime!) { callCenterStats(merchantId: $m, from: $f, to: $t) { callCenterId calls } }`, { m: fx[t!].id, f: FROM, t: TO }), (d) =>
      (d.callCenterStats as Array<{ callCenterId: string }>).some((c) => c.callCenterId === fx[t!].center) ? 'OK' : `unexpected: ${JSON.stringify(d.callCenterStats)}`,
    ),
  rerateDryRun: async (p, t) =>
    classify(
      await http(
        p,
        `query($m: ID!, $f: DateTime!, $t: DateTime!) { rerateDryRun(plan: { merchantId: $m, currency: "EUR", connectionFeeMinor: 0, ratePerMinuteMinor: 1, firstIncrementSeconds: 1, nextIncrementSeconds: 1 }, from: $f, to: $t) { merchantId calls } }`,
        { m: fx[t!].id, f: FROM, t: TO },
      ),
      (d) => (d.rerateDryRun.merchantId === fx[t!].id ? 'OK' : `unexpected: ${JSON.stringify(d.rerateDryRun)}`),
    ),
  createChargesExport: async (p, t) =>
    classify(await http(p, `mutation($m: ID!) { createChargesExport(merchantId: $m, from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { url } }`, { m: fx[t!].id }), (d) =>
      String(d.createChargesExport.url).startsWith('/exports/charges.csv?ticket=') ? 'OK' : `unexpected: ${JSON.stringify(d.createChargesExport)}`,
    ),
  setCallCenterKind: async (p, t) =>
    classify(await http(p, `mutation($c: ID!) { setCallCenterKind(callCenterId: $c, kind: PSTN) { id kind } }`, { c: fx[t!].spareCenter }), (d) =>
      d.setCallCenterKind.id === fx[t!].spareCenter && d.setCallCenterKind.kind === 'PSTN' ? 'OK' : `unexpected: ${JSON.stringify(d.setCallCenterKind)}`,
    ),
  setCallCenterIdentityDtmf: async (p, t) =>
    classify(await http(p, `mutation($c: ID!) { setCallCenterIdentityDtmf(callCenterId: $c, enabled: true) { id identityDtmf } }`, { c: fx[t!].spareCenter }), (d) =>
      d.setCallCenterIdentityDtmf.id === fx[t!].spareCenter && d.setCallCenterIdentityDtmf.identityDtmf === true ? 'OK' : `unexpected: ${JSON.stringify(d.setCallCenterIdentityDtmf)}`,
    ),
  callContextBySessionNumber: async (p, t) =>
    classify(await http(p, `query($n: String!) { callContextBySessionNumber(number: $n) { callId merchantId } }`, { n: SESSION[t!] }), (d) => {
      const c = d.callContextBySessionNumber as { callId: string; merchantId: string } | null;
      if (c === null) return 'HIDDEN';
      return leak(p, [c.merchantId]) ?? (c.callId === fx[t!].liveCall.id ? 'OK' : `unexpected: ${JSON.stringify(c)}`);
    }),
  assignDid: async (p, t) =>
    classify(await http(p, `mutation($i: DidInput!) { assignDid(input: $i) { number merchantId } }`, { i: { merchantId: fx[t!].id, number: DID[t!], callCenterId: fx[t!].spareCenter } }), (d) =>
      d.assignDid.merchantId === fx[t!].id && d.assignDid.number === DID[t!] ? 'OK' : `unexpected: ${JSON.stringify(d.assignDid)}`,
    ),
  releaseDid: async (p, t) => {
    await http('ADMIN', `mutation($i: DidInput!) { assignDid(input: $i) { number } }`, { i: { merchantId: fx[t!].id, number: RELEASED_DID[t!], callCenterId: fx[t!].spareCenter } });
    return classify(await http(p, `mutation($m: ID!, $n: String!) { releaseDid(merchantId: $m, number: $n) }`, { m: fx[t!].id, n: RELEASED_DID[t!] }), (d) =>
      d.releaseDid === RELEASED_DID[t!] ? 'OK' : `unexpected: ${JSON.stringify(d)}`,
    );
  },
  queue: async (p, t) =>
    classify(await http(p, `query($c: ID!) { queue(callCenterId: $c) { callId callCenterId } }`, { c: fx[t!].center }), (d) => {
      const rows = d.queue as Array<{ callCenterId: string }>;
      return Array.isArray(rows) && rows.every((r) => r.callCenterId === fx[t!].center) ? 'OK' : `unexpected: ${JSON.stringify(rows)}`;
    }),
  dids: async (p, t) =>
    classify(await http(p, `query($m: ID!) { dids(merchantId: $m) { number merchantId } }`, { m: fx[t!].id }), (d) => {
      const rows = d.dids as Array<{ merchantId: string }>;
      return leak(p, rows.map((r) => r.merchantId)) ?? (rows.every((r) => r.merchantId === fx[t!].id) ? 'OK' : `unexpected: ${JSON.stringify(rows)}`);
    }),
  answerCall: async (p, t) => {
    const { callId, callToken } = await browserCall(t!);
    const observed = classify(await http(p, `mutation($id: ID!) { answerCall(callId: $id) { id state } }`, { id: callId }), (d) =>
      d.answerCall.id === callId && d.answerCall.state === 'ANSWERED' ? 'OK' : `unexpected: ${JSON.stringify(d.answerCall)}`,
    );
    await hangUp(callToken);
    return observed;
  },
  agentHangUp: async (p, t) => ending(await browserCall(t!), ({ callId }) => agentHangUp(p, callId)),
  'agentHangUp[offered]': async (p, t) => ending(await offeredCall(t!), ({ callId }) => agentHangUp(p, callId)),
  agentCommand: async (p, t) =>
    classify(await http(p, `mutation($id: ID!) { agentCommand(callId: $id, action: VOLUME, argument: "+10") { callId accepted } }`, { id: fx[t!].liveCall.id }), (d) =>
      d.agentCommand.callId === fx[t!].liveCall.id && d.agentCommand.accepted === true ? 'OK' : `unexpected: ${JSON.stringify(d.agentCommand)}`,
    ),
  agentMediaJoin: async (p, t) =>
    classify(await http(p, `query($id: ID!) { agentMediaJoin(callId: $id) { provider room } }`, { id: fx[t!].liveCall.id }), (d) =>
      d.agentMediaJoin.provider === 'external' ? 'OK' : `unexpected: ${JSON.stringify(d.agentMediaJoin)}`,
    ),
  // ---- transfers: each on a fresh call (its state is changed), its effect checked against the verdict
  transferCall: async (p, t) =>
    ending(await heldCall(t!, p), async ({ callId }) => {
      const r = await http(p, `mutation($c: ID!, $to: ID!) { transferCall(callId: $c, toCallCenterId: $to) { ${TRANSFER} } }`, { c: callId, to: fx[t!].deskCenter });
      const observed = classify(r, (d) =>
        d.transferCall.mode === 'BLIND' && d.transferCall.status === 'OPEN' && d.transferCall.toCallCenterId === fx[t!].deskCenter ? 'OK' : `unexpected: ${JSON.stringify(d.transferCall)}`,
      );
      return transferEffect(callId, observed, ['OPEN'], []);
    }),
  consultTransfer: async (p, t) =>
    ending(await heldCall(t!, p), async ({ callId }) => {
      const r = await http(p, `mutation($c: ID!, $to: ID!) { consultTransfer(callId: $c, toAgent: $to) { ${TRANSFER} } }`, { c: callId, to: fx[t!].deskAgent.id });
      const observed = classify(r, (d) =>
        d.consultTransfer.mode === 'WARM' && d.consultTransfer.status === 'OPEN' && d.consultTransfer.toAgent === fx[t!].deskAgent.id ? 'OK' : `unexpected: ${JSON.stringify(d.consultTransfer)}`,
      );
      return transferEffect(callId, observed, ['OPEN'], []);
    }),
  // Taken by an agent of the target center (BLIND), or by a CRM key of the merchant.
  completeTransfer: async (p, t) =>
    ending(await offeredCall(t!), async ({ callId, transferId }) => {
      const r = await http(p, `mutation($c: ID!, $t: ID!) { completeTransfer(callId: $c, transferId: $t) { ${TRANSFER} } }`, { c: callId, t: transferId });
      const observed = classify(r, (d) => (d.completeTransfer.transferId === transferId && d.completeTransfer.status === 'COMPLETED' ? 'OK' : `unexpected: ${JSON.stringify(d.completeTransfer)}`));
      return transferEffect(callId, observed, ['COMPLETED'], ['OPEN']);
    }),
  // Declined by the target center's agent, or cancelled by a CRM key of the merchant.
  cancelTransfer: async (p, t) =>
    ending(await offeredCall(t!), async ({ callId, transferId }) => {
      const r = await http(p, `mutation($c: ID!, $t: ID!) { cancelTransfer(callId: $c, transferId: $t) { ${TRANSFER} } }`, { c: callId, t: transferId });
      const observed = classify(r, (d) => (d.cancelTransfer.transferId === transferId && d.cancelTransfer.status === 'CANCELLED' ? 'OK' : `unexpected: ${JSON.stringify(d.cancelTransfer)}`));
      return transferEffect(callId, observed, ['CANCELLED'], ['OPEN']);
    }),
  callTransfers: async (p, t) =>
    ending(await offeredCall(t!), async ({ callId, transferId }) =>
      classify(await http(p, `query($c: ID!) { callTransfers(callId: $c) { ${TRANSFER} } }`, { c: callId }), (d) => {
        const rows = d.callTransfers as Array<{ transferId: string }>;
        return rows.length === 1 && rows[0]!.transferId === transferId ? 'OK' : `unexpected: ${JSON.stringify(rows)}`;
      }),
    ),
  // The merchant's other AGENT keys (the desk's agent among them), never the asking key, never another merchant's.
  transferColleagues: async (p, t) =>
    ending(await offeredCall(t!), async ({ callId }) =>
      classify(await http(p, `query($c: ID!) { transferColleagues(callId: $c) { agent callCenterId } }`, { c: callId }), (d) => {
        const rows = d.transferColleagues as Array<{ agent: string; callCenterId: string }>;
        const centers = [fx[t!].center, fx[t!].browserCenter, fx[t!].deskCenter];
        const self = keyIdOf(keyOf(p) ?? '');
        return rows.some((r) => r.agent === fx[t!].deskAgent.id) && rows.every((r) => centers.includes(r.callCenterId) && r.agent !== self) ? 'OK' : `unexpected: ${JSON.stringify(rows)}`;
      }),
    ),

  // ---- callbacks: the widget's with the click's token, the merchant's with its key
  requestCallback: async (p, t) => {
    const { callToken } = await click(t!);
    const r = await bookAs(p, callToken);
    const observed = classify(r, (d) => (d.requestCallback.state === 'PENDING' && d.requestCallback.callCenterId === fx[t!].browserCenter ? 'OK' : `unexpected: ${JSON.stringify(d.requestCallback)}`));
    return observed === 'OK' ? cancelled(t!, (r.data!.requestCallback as { id: string }).id, observed) : observed;
  },
  cancelCallback: async (p, t) => {
    const { id, callToken } = await booked(t!);
    return classify(await http(p, CANCEL_BY_SHOPPER, { t: callToken, c: id }), (d) => (d.cancelCallback.id === id && d.cancelCallback.state === 'CANCELLED' ? 'OK' : `unexpected: ${JSON.stringify(d.cancelCallback)}`));
  },
  'cancelCallback[other click]': async (p, t) => {
    const { id } = await booked(t!);
    const other = await click(t!);
    return cancelled(t!, id, classifyHiding(await http(p, CANCEL_BY_SHOPPER, { t: other.callToken, c: id }), (d) => `unexpected: cancelled ${JSON.stringify(d.cancelCallback)}`));
  },
  answerCallback: async (p, t) => browserCallbackOp(p, t!, ANSWER_CALLBACK, false),
  'answerCallback[other click]': async (p, t) => browserCallbackOp(p, t!, ANSWER_CALLBACK, true),
  declineCallback: async (p, t) => browserCallbackOp(p, t!, DECLINE_CALLBACK, false),
  'declineCallback[other click]': async (p, t) => browserCallbackOp(p, t!, DECLINE_CALLBACK, true),
  callbacks: async (p, t) =>
    classify(await http(p, `query($m: ID!) { callbacks(merchantId: $m, status: PENDING, first: 100) { items { id callCenterId } } }`, { m: fx[t!].id }), (d) => {
      const rows = d.callbacks.items as Array<{ id: string; callCenterId: string }>;
      if (rows.some((r) => r.callCenterId !== fx[t!].browserCenter)) return `unexpected: a callback of another center: ${JSON.stringify(rows).slice(0, 200)}`;
      return rows.some((r) => r.id === fx[t!].callback) ? 'OK' : 'HIDDEN';
    }),
  cancelMerchantCallback: async (p, t) => {
    const { id } = await booked(t!);
    const observed = classifyHiding(await http(p, CANCEL_BY_MERCHANT, { m: fx[t!].id, c: id }), (d) =>
      d.cancelMerchantCallback.id === id && d.cancelMerchantCallback.state === 'CANCELLED' ? 'OK' : `unexpected: ${JSON.stringify(d.cancelMerchantCallback)}`,
    );
    return cancelled(t!, id, observed);
  },
  'cancelMerchantCallback[other]': async (p, t) => {
    const { id } = await booked(t!);
    return cancelled(t!, id, classifyHiding(await http(p, CANCEL_BY_MERCHANT, { m: fx[otherOf(t!)].id, c: id }), (d) => `unexpected: cancelled ${JSON.stringify(d.cancelMerchantCallback)}`));
  },
  setCallbackPrefixes: async (p, t) =>
    classify(await http(p, `mutation($m: ID!) { setCallbackPrefixes(merchantId: $m, prefixes: ["+1"]) { id callbackPrefixes } }`, { m: fx[t!].id }), (d) =>
      d.setCallbackPrefixes.id === fx[t!].id && JSON.stringify(d.setCallbackPrefixes.callbackPrefixes) === '["+1"]' ? 'OK' : `unexpected: ${JSON.stringify(d.setCallbackPrefixes)}`,
    ),

  // ---- operations
  deadLetters: async (p, t) =>
    classify(await http(p, `{ deadLetters(first: 500) { id merchantId } }`), (d) => {
      const rows = d.deadLetters as Array<{ id: string; merchantId: string | null }>;
      return leak(p, rows.flatMap((r) => (r.merchantId ? [r.merchantId] : []))) ?? (rows.some((r) => r.id === fx[t!].deadLetter) ? 'OK' : 'HIDDEN');
    }),
  replayDeadLetter: async (p, t) => {
    const r = await http(p, `mutation($id: ID!) { replayDeadLetter(id: $id) { id replayedAt } }`, { id: fx[t!].deadLetter });
    const code = r.errors?.[0]?.extensions?.code;
    // The replay ran: the view still refuses the event (nothing was fixed), which it says as CONFLICT.
    if (code === 'CONFLICT' && /still cannot apply/.test(r.errors![0]!.message)) return 'OK';
    // Another merchant's dead letter answers as a missing one.
    return classifyHiding(r, (d) => `unexpected: replayed ${JSON.stringify(d)}`);
  },
  queueChanges: async (p, t) => {
    const s = subscribe(p, `subscription($c: ID!) { queueChanges(callCenterId: $c) { callId callCenterId } }`, { c: fx[t!].center });
    const refused = await s.refusedWithin(400);
    if (refused) return refused;
    // The list now arrives at once: the center's waiting calls, none of another center's.
    const r = await s.first;
    if (!r.item) return r.observed;
    const rows = r.item as unknown as Array<{ callCenterId: string }>;
    return Array.isArray(rows) && rows.every((x) => x.callCenterId === fx[t!].center) ? 'OK' : `unexpected: ${JSON.stringify(rows)}`;
  },
  gatewayPortChanges: async (p) => {
    const s = subscribe(p, `subscription($g: ID!) { gatewayPortChanges(gatewayId: $g) { gatewayId number busy callId } }`, { g: gatewayId });
    const refused = await s.refusedWithin(400);
    if (refused) return refused;
    const { callId, callToken } = await download('A');
    await initiate(callToken);
    const r = await s.first;
    await hangUp(callToken);
    if (r.item) return r.item.gatewayId === gatewayId && r.item.busy === true && r.item.callId === callId ? 'OK' : `unexpected: ${JSON.stringify(r.item)}`;
    return r.observed;
  },

  // ---- webhooks
  webhookEventTypes: async (p) => classify(await http(p, `{ webhookEventTypes }`), (d) => ((d.webhookEventTypes as string[]).includes('ScreenPop') ? 'OK' : 'unexpected: no ScreenPop')),
  webhookEndpoints: async (p, t) =>
    classify(await http(p, `query($m: ID!) { webhookEndpoints(merchantId: $m) { id merchantId } }`, { m: fx[t!].id }), (d) => {
      const rows = d.webhookEndpoints as Array<{ id: string; merchantId: string }>;
      return leak(p, rows.map((r) => r.merchantId)) ?? (rows.some((r) => r.id === fx[t!].webhook.endpoint) ? 'OK' : 'HIDDEN');
    }),
  webhookDeliveries: async (p, t) =>
    classify(await http(p, `query($e: ID!) { webhookDeliveries(endpointId: $e) { id endpointId } }`, { e: fx[t!].webhook.endpoint }), (d) => {
      const rows = d.webhookDeliveries as Array<{ id: string; endpointId: string }>;
      return rows.some((r) => r.id === fx[t!].webhook.delivery) && rows.every((r) => r.endpointId === fx[t!].webhook.endpoint) ? 'OK' : `unexpected: ${JSON.stringify(rows).slice(0, 200)}`;
    }),
  createWebhookEndpoint: async (p, t) =>
    classify(
      await http(p, `mutation($m: ID!) { createWebhookEndpoint(input: { merchantId: $m, url: "http://127.0.0.1:9/cell", eventTypes: ["CallTerminated"] }) { secret endpoint { merchantId } } }`, { m: fx[t!].id }),
      (d) => (d.createWebhookEndpoint.endpoint.merchantId === fx[t!].id && /^whsec_/.test(d.createWebhookEndpoint.secret) ? 'OK' : `unexpected: ${JSON.stringify(d.createWebhookEndpoint)}`),
    ),
  updateWebhookEndpoint: async (p, t) =>
    classify(await http(p, `mutation($e: ID!, $d: String) { updateWebhookEndpoint(endpointId: $e, description: $d) { id description } }`, { e: fx[t!].webhook.endpoint, d: `by ${p}` }), (d) =>
      d.updateWebhookEndpoint.id === fx[t!].webhook.endpoint && d.updateWebhookEndpoint.description === `by ${p}` ? 'OK' : `unexpected: ${JSON.stringify(d.updateWebhookEndpoint)}`,
    ),
  rotateWebhookSecret: async (p, t) =>
    classify(await http(p, `mutation($e: ID!) { rotateWebhookSecret(endpointId: $e, keepPreviousSeconds: 60) { secret endpoint { id } } }`, { e: fx[t!].webhook.endpoint }), (d) =>
      d.rotateWebhookSecret.endpoint.id === fx[t!].webhook.endpoint && /^whsec_/.test(d.rotateWebhookSecret.secret) ? 'OK' : `unexpected: ${JSON.stringify(d.rotateWebhookSecret)}`,
    ),
  disableWebhookEndpoint: async (p, t) => {
    const e = fx[t!].webhook.endpoint;
    const observed = classify(await http(p, `mutation($e: ID!) { disableWebhookEndpoint(endpointId: $e) { id status } }`, { e }), (d) =>
      d.disableWebhookEndpoint.status === 'DISABLED' ? 'OK' : `unexpected: ${JSON.stringify(d.disableWebhookEndpoint)}`,
    );
    // The effect must match the verdict; then the fixture's endpoint is active again for the next cells.
    const status = (await admin(`query($m: ID!) { webhookEndpoints(merchantId: $m) { id status } }`, { m: fx[t!].id })).webhookEndpoints.find((x: { id: string }) => x.id === e).status;
    if ((observed === 'OK') !== (status === 'DISABLED')) return `unexpected: the endpoint is ${status} after ${observed}`;
    await admin(`mutation($e: ID!) { enableWebhookEndpoint(endpointId: $e) { status } }`, { e });
    return observed;
  },
  enableWebhookEndpoint: async (p, t) =>
    classify(await http(p, `mutation($e: ID!) { enableWebhookEndpoint(endpointId: $e) { id status } }`, { e: fx[t!].webhook.endpoint }), (d) =>
      d.enableWebhookEndpoint.status === 'ACTIVE' ? 'OK' : `unexpected: ${JSON.stringify(d.enableWebhookEndpoint)}`,
    ),
  replayWebhookDelivery: async (p, t) =>
    classify(await http(p, `mutation($d: ID!) { replayWebhookDelivery(deliveryId: $d) { id endpointId } }`, { d: fx[t!].webhook.delivery }), (d) =>
      d.replayWebhookDelivery.id === fx[t!].webhook.delivery ? 'OK' : `unexpected: ${JSON.stringify(d.replayWebhookDelivery)}`,
    ),
  replayFailedWebhookDeliveries: async (p, t) =>
    classify(await http(p, `mutation($e: ID!) { replayFailedWebhookDeliveries(endpointId: $e) }`, { e: fx[t!].webhook.endpoint }), (d) =>
      Number.isInteger(d.replayFailedWebhookDeliveries) ? 'OK' : `unexpected: ${JSON.stringify(d)}`,
    ),
};

/**
 * One graphql-ws subscription. A refusal may arrive as an `error` message or as a `next` carrying
 * errors followed by `complete` (graphql-ws sends a failed subscribe's result that way): both count
 * as the error on subscribe.
 */
const subscribe = (p: Principal, query: string, variables: Record<string, unknown>, timeoutMs = 8000) => {
  let unsubscribe = () => {};
  let settle: (r: { item?: Record<string, any>; observed: Observed }) => void = () => {};
  const first = new Promise<{ item?: Record<string, any>; observed: Observed }>((resolve) => (settle = resolve));
  let settled: { item?: Record<string, any>; observed: Observed } | null = null;
  const done = (r: { item?: Record<string, any>; observed: Observed }) => {
    if (settled) return;
    settled = r;
    clearTimeout(timer);
    unsubscribe();
    settle(r);
  };
  const fromErrors = (errors: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>): Observed => {
    const code = errors[0]?.extensions?.code;
    return code === 'FORBIDDEN' || code === 'UNAUTHENTICATED' ? code : `unexpected: ${String(code)}: ${errors[0]?.message}`;
  };
  const timer = setTimeout(() => done({ observed: 'unexpected: nothing arrived (timeout)' }), timeoutMs);
  unsubscribe = wsOf(p).subscribe<Record<string, unknown>>(
    { query, variables },
    {
      next: (r) => {
        if (r.errors?.length) return done({ observed: fromErrors(r.errors) });
        const item = Object.values(r.data ?? {})[0] as Record<string, any> | undefined;
        done(item ? { item, observed: 'OK' } : { observed: 'unexpected: empty result' });
      },
      error: (e) => {
        if (Array.isArray(e)) return done({ observed: fromErrors(e) });
        const ev = e as { code?: number; reason?: string; message?: string };
        done({ observed: `unexpected: socket error ${ev.code ?? ''} ${ev.reason ?? ev.message ?? ''}` });
      },
      complete: () => done({ observed: 'unexpected: completed without a result' }),
    },
  );
  return {
    first,
    /** Resolves with the refusal if one arrives within `ms`, else null (the subscription is open). */
    refusedWithin: async (ms: number): Promise<Observed | null> => {
      await Promise.race([first, new Promise((r) => setTimeout(r, ms))]);
      const s = settled as { item?: Record<string, any>; observed: Observed } | null;
      return s && !s.item ? s.observed : null;
    },
  };
};

/** Every result of a subscription that completes on its own (a replay with `to`), or the refusal. */
const subscribeAll = (p: Principal, query: string, variables: Record<string, unknown>, timeoutMs = 8000) =>
  new Promise<Array<Record<string, any>> | Observed>((resolve) => {
    const items: Array<Record<string, any>> = [];
    const timer = setTimeout(() => resolve(`unexpected: not complete after ${items.length} item(s) (timeout)`), timeoutMs);
    const end = (r: Array<Record<string, any>> | Observed) => {
      clearTimeout(timer);
      resolve(r);
    };
    wsOf(p).subscribe<Record<string, unknown>>(
      { query, variables },
      {
        next: (r) => {
          if (r.errors?.length) {
            const code = r.errors[0]!.extensions?.code;
            return end(code === 'FORBIDDEN' || code === 'UNAUTHENTICATED' ? code : `unexpected: ${String(code)}: ${r.errors[0]!.message}`);
          }
          items.push(Object.values(r.data ?? {})[0] as Record<string, any>);
        },
        error: (e) => {
          const first = Array.isArray(e) ? (e[0] as { extensions?: { code?: string }; message?: string } | undefined) : undefined;
          const code = first?.extensions?.code;
          end(code === 'FORBIDDEN' || code === 'UNAUTHENTICATED' ? code : `unexpected: error ${JSON.stringify(e).slice(0, 200)}`);
        },
        complete: () => end(items),
      },
    );
  });

// ------------------------------------------------------------------------------------------------

/**
 * A dead letter per merchant: an event its view cannot read (as a buggy producer would write it),
 * appended to the server's own SQLite store from this process on a stream no command reads. The
 * server follows the file, the merchants view throws, the event is set aside.
 */
const poisonEvents = async () => {
  const store = new SqliteEventStore(join(server.dataDir, 'events.sqlite'));
  try {
    for (const m of ['A', 'B'] as const)
      await store.append(`merchant-poison${m}`, [{ eventId: randomUUID(), type: 'DtmfCommandSet', data: null, occurredAt: new Date().toISOString(), merchantId: fx[m].id, correlationId: 'poison', causationId: null }], 0);
  } finally {
    await store.close();
  }
  for (const m of ['A', 'B'] as const)
    fx[m].deadLetter = await eventually(
      async () => (await admin(`{ deadLetters(first: 500) { id merchantId consumer } }`)).deadLetters.find((d: { merchantId: string; consumer: string }) => d.merchantId === fx[m].id && d.consumer === 'merchants')?.id,
      15_000,
      `merchant ${m}'s poison event dead-lettered`,
    );
};

const operationsOf = (sdl: string) => {
  const out: string[] = [];
  for (const d of parse(sdl).definitions)
    if (d.kind === Kind.OBJECT_TYPE_DEFINITION && ['Query', 'Mutation', 'Subscription'].includes(d.name.value))
      for (const f of (d as ObjectTypeDefinitionNode).fields ?? []) out.push(f.name.value);
  return out.sort();
};

describe('authorization table: operation × principal × own / other merchant (HTTP and WebSocket)', () => {
  before(async () => {
    server = await startServer({
      WEBDIAL_MEDIA: 'external',
      WEBDIAL_RATE_CLIENT_PER_MIN: '100000',
      WEBDIAL_RATE_MERCHANT_PER_MIN: '100000',
      WEBDIAL_RINGING_TIMEOUT: '3600',
      WEBDIAL_ANI_QUARANTINE: '0',
      // Callbacks are limited per client address (5 an hour): each booking here comes from its own (X-Forwarded-For).
      WEBDIAL_TRUST_PROXY: 'loopback',
    });
    const ports = Array.from({ length: 16 }, (_, i) => ({ number: i + 1, ani: `+1212555${String(1000 + i)}` }));
    gatewayId = (await admin(`mutation($p: [PortInput!]!) { createGateway(input: { name: "GW", region: "us-east", ports: $p }) { id } }`, { p: ports })).createGateway.id;
    gatewayKey = (await admin(`mutation { createApiKey(role: GATEWAY) { key } }`)).createApiKey.key;
    fx.A = await setUpMerchant('Merchant A');
    fx.B = await setUpMerchant('Merchant B');
    await placeCalls('A');
    await placeCalls('B');
    // The read side is eventually consistent: wait until both live calls and their ANIs are readable.
    for (const m of ['A', 'B'] as const) {
      const c = fx[m].liveCall;
      const r = await eventually(
        async () => {
          const d = await admin(`query($id: ID!, $a: String!, $e: ID!) { call(id: $id) { state } callTimeline(callId: $id) { position } callContextByAni(ani: $a) { callId } ended: call(id: $e) { state } }`, {
            id: c.id,
            a: c.ani,
            e: fx[m].endedCall,
          });
          return d.call?.state === 'ANSWERED' && d.callContextByAni?.callId === c.id && d.ended?.state === 'TERMINATED' ? d : null;
        },
        15_000,
        `merchant ${m}'s calls in the read models`,
      );
      c.firstPosition = r.callTimeline[0].position;
      const w = fx[m].webhook;
      w.delivery = (await eventually(async () => (await admin(`query($e: ID!) { webhookDeliveries(endpointId: $e) { id } }`, { e: w.endpoint })).webhookDeliveries[0], 15_000, `a webhook delivery of ${m}`)).id;
    }
    for (const m of ['A', 'B'] as const) {
      const id = (fx[m].callback = (await booked(m)).id);
      await eventually(async () => (await admin(`query($m: ID!) { callbacks(merchantId: $m) { items { id } } }`, { m: fx[m].id })).callbacks.items.some((c: { id: string }) => c.id === id), 15_000, `merchant ${m}'s callback listed`);
    }
    setUpAt = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20)); // `at` lies strictly in the past
    await poisonEvents();
  });

  after(async () => {
    for (const c of wsClients.values()) void c.dispose();
    await server?.stop();
  });

  test('the table covers every Query, Mutation and Subscription of schema.graphql, each with every principal', () => {
    const sdl = readFileSync('schema.graphql', 'utf8');
    const inTable = [...new Set(ROWS.map((r) => r.op.replace(/\[.*\]$/, '')))].sort();
    assert.deepEqual(inTable, operationsOf(sdl));
    for (const [op, target] of MATRIX) assert.ok(runners[op], `no runner for ${op} (${target})`);
    assert.ok(ROWS.length >= 400, `${ROWS.length} cells`);
  });

  for (const row of ROWS)
    test(nameOf(row), async () => {
      const observed = await runners[row.op]!(row.principal, row.target);
      assert.equal(observed, row.expected);
    });

  test('after the table: the live calls are untouched by refused operations', async () => {
    for (const m of ['A', 'B'] as const) {
      const d = await admin(`query($id: ID!) { call(id: $id) { state merchantId } }`, { id: fx[m].liveCall.id });
      assert.deepEqual(d.call, { state: 'ANSWERED', merchantId: fx[m].id });
    }
  });
});
