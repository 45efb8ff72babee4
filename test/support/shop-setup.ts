import { gql } from '../../src/cli/client';
import { ADMIN_KEY } from './server';

export interface ShopIds {
  merchant: string;
  center: string;
  link: string;
  gateway: string;
}

/**
 * A merchant as an operator sets one up: allowed origins, one always-open call center, a link, a
 * gateway whose ports present `anis`, a rate plan, and `*76` pushing `pushUrl` when given.
 */
export const seedShop = async (
  url: string,
  opts: { name?: string; allowedOrigins: string[] | null; centerNumber?: string; anis?: string[]; pushUrl?: string; region?: string },
): Promise<ShopIds> => {
  const admin = (q: string, v: Record<string, unknown> = {}) => gql(url, q, v, ADMIN_KEY);
  const region = opts.region ?? 'eu-west';
  const { createMerchant } = await admin(`mutation($n: String!, $o: [String!]) { createMerchant(input: { name: $n, maxConcurrentCalls: 10, allowedOrigins: $o }) { id } }`, {
    n: opts.name ?? 'Shop',
    o: opts.allowedOrigins,
  });
  const m = createMerchant.id as string;
  const { addCallCenter } = await admin(
    `mutation($m: ID!, $p: String!, $r: String!) { addCallCenter(input: { merchantId: $m, name: "Agents", phoneNumber: $p, timeZone: "Europe/Paris", capacity: 5, region: $r }) { id } }`,
    { m, p: opts.centerNumber ?? '+33100000001', r: region },
  );
  const { createLink } = await admin(`mutation($m: ID!, $c: ID!) { createLink(input: { merchantId: $m, label: "Call us", callCenterIds: [$c] }) { id } }`, { m, c: addCallCenter.id });
  const anis = opts.anis ?? ['+33100000101'];
  const { createGateway } = await admin(`mutation($p: [PortInput!]!, $r: String!) { createGateway(input: { name: "GW", region: $r, ports: $p }) { id } }`, {
    p: anis.map((ani, i) => ({ number: i + 1, ani })),
    r: region,
  });
  await admin(
    `mutation($m: ID!) { setRatePlan(input: { merchantId: $m, currency: "EUR", connectionFeeMinor: 10, ratePerMinuteMinor: 6, firstIncrementSeconds: 30, nextIncrementSeconds: 6, minimumChargeMinor: 0 }) }`,
    { m },
  );
  if (opts.pushUrl) await admin(`mutation($m: ID!, $u: String!) { setDtmfCommand(merchantId: $m, sequence: "*76", action: PUSH_PAGE, argument: $u) }`, { m, u: opts.pushUrl });
  return { merchant: m, center: addCallCenter.id, link: createLink.id, gateway: createGateway.id };
};

export const widgetTag = (webdialOrigin: string, ids: ShopIds) =>
  `<script src="${webdialOrigin}/widget.js" data-merchant="${ids.merchant}" data-link="${ids.link}" data-customer="shopper-1"></script>`;
