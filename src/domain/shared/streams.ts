/** One helper builds each stream id; categories are the prefix before the first '-'. */
export const callStreamId = (callId: string) => `call-${callId}`;
export const merchantStreamId = (merchantId: string) => `merchant-${merchantId}`;
export const gatewayStreamId = (gatewayId: string) => `gateway-${gatewayId}`;
export const portStreamId = (gatewayId: string, port: number) => `port-${gatewayId}_${port}`;
export const apiKeyStreamId = (keyId: string) => `apikey-${keyId}`;
/** A virtual number (DID), keyed by the number itself: one stream per number makes it unique across merchants. */
export const didStreamId = (number: string) => `did-${number}`;
export const webhookEndpointStreamId = (endpointId: string) => `webhook-${endpointId}`;
/** A capacity slot: `slot-merchant.<merchantId>_<k>` or `slot-center.<callCenterId>_<k>`. */
export const slotStreamId = (scope: 'merchant' | 'center', ownerId: string, slot: number) => `slot-${scope}.${ownerId}_${slot}`;
/** The waiting calls of one call center, in order (issue 25: ../queue/queue.ts). */
export const queueStreamId = (callCenterId: string) => `queue-${callCenterId}`;
/** A callback promise and its tries (issue 25: ../callback/callback.ts). */
export const callbackStreamId = (callbackId: string) => `callback-${callbackId}`;
/** The transfers of one call (issue 25: ../transfer/transfer.ts). */
export const transferStreamId = (callId: string) => `transfer-${callId}`;

export type StreamCategory = 'call' | 'merchant' | 'gateway' | 'port' | 'apikey' | 'slot' | 'webhook' | 'did' | 'queue' | 'callback' | 'transfer';

export const categoryOf = (streamId: string): StreamCategory => {
  const c = streamId.slice(0, streamId.indexOf('-'));
  if (c === 'call' || c === 'merchant' || c === 'gateway' || c === 'port' || c === 'apikey' || c === 'slot' || c === 'webhook' || c === 'did' || c === 'queue' || c === 'callback' || c === 'transfer') return c;
  throw new Error(`unknown stream category in ${streamId}`);
};
