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
  keys: { merchant: string; crm: string; analyst: string; gateway: string };
}

/**
 * WEBDIAL_DEMO: a demo merchant with an always-open call center, a gateway with 32 ports, a link,
 * a rate plan and a DTMF table, plus one key per role. Seeded once per data directory (demo.json).
 */
export const seedDemo = async (services: ApiServices, dataDir: string, logger: Logger): Promise<DemoSeed> => {
  const file = join(dataDir, 'demo.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DemoSeed;
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
  writeFileSync(file, JSON.stringify(seed, null, 2), { mode: 0o600 });
  logger.info({ merchantId: seed.merchantId }, 'demo data seeded');
  return seed;
};
