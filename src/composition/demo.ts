import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ApiServices } from '../graphql/context';
import type { Logger } from './logger';

export interface DemoSeed {
  merchantId: string;
  callCenterId: string;
  linkId: string;
  gatewayId: string;
  keys: { merchant: string; crm: string; analyst: string; gateway: string; /** AGENT key of the browser desk. */ agent?: string };
  /** A browser (PC-to-PC) call center and its link: calls ring in the agent console (issue 12). */
  browser?: { callCenterId: string; linkId: string };
}

/**
 * WEBDIAL_DEMO: a demo merchant with an always-open call center, a gateway with 32 ports, a link,
 * a rate plan and a DTMF table, plus one key per role. Seeded once per data directory (demo.json).
 */
export const seedDemo = async (services: ApiServices, dataDir: string, logger: Logger): Promise<DemoSeed> => {
  const file = join(dataDir, 'demo.json');
  if (existsSync(file)) {
    const seeded = JSON.parse(readFileSync(file, 'utf8')) as DemoSeed;
    if (seeded.browser) return seeded;
    // Seeded before browser desks existed: add one, once.
    const upgraded = await addBrowserDesk(services, seeded, randomUUID());
    writeFileSync(file, JSON.stringify(upgraded, null, 2), { mode: 0o600 });
    return upgraded;
  }
  const c = randomUUID();
  const { admin } = services;
  const merchant = await admin.createMerchant({ name: 'Demo Shop', maxConcurrentCalls: 20, allowedOrigins: null }, c);
  const center = await admin.addCallCenter(
    { merchantId: merchant.id, name: 'Demo Call Center', phoneNumber: '+14155550100', timeZone: 'America/New_York', weeklyHours: null, capacity: 10, region: 'us-east', kind: 'PSTN' },
    c,
  );
  const gateway = await admin.createGateway(
    { name: 'Demo PSTN Gateway', region: 'us-east', ports: Array.from({ length: 32 }, (_, i) => ({ number: i + 1, ani: `+141555502${String(i + 1).padStart(2, "0")}` })) },
    c,
  );
  const link = await admin.createLink({ merchantId: merchant.id, label: 'Product page button', callCenterIds: [center.id] }, c);
  await admin.setRatePlan(
    merchant.id,
    { currency: 'USD', connectionFeeMinor: 10, ratePerMinuteMinor: 6, firstIncrementSeconds: 30, nextIncrementSeconds: 6, minimumChargeMinor: 0, prefixRates: [{ prefix: '+44', ratePerMinuteMinor: 9 }] },
    c,
  );
  await admin.setDtmfCommand(merchant.id, '*76', 'PUSH_PAGE', 'https://shop.example/offers', c);
  await admin.setDtmfCommand(merchant.id, '*22', 'VOLUME', '+20', c);
  await admin.setDtmfCommand(merchant.id, '*88', 'VOLUME', '-20', c);
  const key = async (role: 'MERCHANT' | 'CRM' | 'ANALYST' | 'GATEWAY') =>
    (await admin.createApiKey(role, role === 'GATEWAY' ? null : merchant.id, c)).key;
  const seed: DemoSeed = {
    merchantId: merchant.id,
    callCenterId: center.id,
    linkId: link.id,
    gatewayId: gateway.id,
    keys: { merchant: await key('MERCHANT'), crm: await key('CRM'), analyst: await key('ANALYST'), gateway: await key('GATEWAY') },
  };
  const withDesk = await addBrowserDesk(services, seed, c);
  writeFileSync(file, JSON.stringify(withDesk, null, 2), { mode: 0o600 });
  logger.info({ merchantId: seed.merchantId }, 'demo data seeded');
  return withDesk;
};

/** The demo's browser desk: a BROWSER call center, a link to it and an AGENT key for it. */
const addBrowserDesk = async (services: ApiServices, seed: DemoSeed, c: string): Promise<DemoSeed> => {
  const { admin } = services;
  const desk = await admin.addCallCenter(
    { merchantId: seed.merchantId, name: 'Demo Browser Desk', phoneNumber: '+14155550199', timeZone: 'America/New_York', weeklyHours: null, capacity: 5, region: 'us-east', kind: 'BROWSER' },
    c,
  );
  const link = await admin.createLink({ merchantId: seed.merchantId, label: 'Talk in the browser', callCenterIds: [desk.id] }, c);
  const agent = (await admin.createApiKey('AGENT', seed.merchantId, c, desk.id)).key;
  return { ...seed, keys: { ...seed.keys, agent }, browser: { callCenterId: desk.id, linkId: link.id } };
};
