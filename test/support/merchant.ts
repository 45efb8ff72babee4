import { gql } from '../../src/cli/client';
import { ADMIN_KEY } from './server';

export interface TestMerchant {
  merchantId: string;
  linkId: string;
  centerId: string;
  merchantKey: string;
}

/** A merchant with an always-open call center (capacity `capacity`), a link and a MERCHANT key, configured by the operator. */
export const setupMerchant = async (url: string, name = 'Shop', capacity = 20): Promise<TestMerchant> => {
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(url, q, v, ADMIN_KEY);
  const { createMerchant } = await admin(`mutation($n: String!) { createMerchant(input: { name: $n }) { id } }`, { n: name });
  const merchantId = createMerchant.id as string;
  const { addCallCenter } = await admin(
    `mutation($m: ID!, $c: Int!) { addCallCenter(input: { merchantId: $m, name: "Center", phoneNumber: "+12125550100", timeZone: "UTC", capacity: $c, region: "us-east" }) { id } }`,
    { m: merchantId, c: capacity },
  );
  const { createLink } = await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "Button", callCenterIds: [$c] }) { id } }`, { m: merchantId, c: addCallCenter.id });
  const { createApiKey } = await admin(`mutation($m: ID) { createApiKey(role: MERCHANT, merchantId: $m) { key } }`, { m: merchantId });
  return { merchantId, linkId: createLink.id, centerId: addCallCenter.id, merchantKey: createApiKey.key };
};

/** A gateway with `ports` ports (caller IDs +1212555{prefix}NN). */
export const setupGateway = async (url: string, ports = 20, prefix = 3): Promise<string> => {
  const { createGateway } = await gql(
    url,
    `mutation($p: [PortInput!]!) { createGateway(input: { name: "GW", region: "us-east", ports: $p }) { id } }`,
    { p: Array.from({ length: ports }, (_, i) => ({ number: i + 1, ani: `+1212555${prefix}${String(i).padStart(3, '0')}` })) },
    ADMIN_KEY,
  );
  return createGateway.id as string;
};

/** The widget's two steps: download, then initiate; the media (simulator) plays the rest. Returns the call id. */
export const placeCall = async (url: string, m: TestMerchant, customerId = 'c-1'): Promise<string> => {
  const { recordDownload } = await gql(url, `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken } }`, {
    i: { merchantId: m.merchantId, linkId: m.linkId, customerId, pageUrl: 'https://shop.example/p/1', context: { cart: ['sku-1'] } },
  });
  await gql(url, `mutation($t: String!) { initiateCall(callToken: $t) { id } }`, { t: recordDownload.callToken });
  return recordDownload.callId as string;
};
