import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { badInput } from '../domain/shared/errors';
import type { WebhookUrlPolicy } from '../domain/webhook/events';

/**
 * Addresses a production webhook may not reach (SSRF): loopback, private, link-local, CGNAT,
 * unspecified, multicast and reserved ranges, in IPv4 and IPv6 (IPv4-mapped IPv6 is checked as IPv4).
 */
const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  blocked.addSubnet(net, bits, 'ipv6');

/** True for an address a production webhook must not reach. */
export const isNonPublicAddress = (address: string): boolean => {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1], 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
};

export type Resolve = (host: string) => Promise<string[]>;

export const systemResolve: Resolve = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses: LookupAddress[]) => (err ? reject(err) : resolve(addresses.map((a) => a.address)))),
  );

/**
 * The registration check that needs I/O: under the `public` policy every address the host resolves
 * to must be public (a name that resolves to one private address is refused: DNS answers rotate).
 */
export const assertReachableUnderPolicy = async (url: string, policy: WebhookUrlPolicy, resolve: Resolve = systemResolve): Promise<void> => {
  if (policy === 'any') return;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : await resolve(host);
  } catch (e) {
    throw badInput(`url host ${host} does not resolve: ${(e as Error).message}`, { field: 'url' });
  }
  const bad = addresses.filter(isNonPublicAddress);
  if (addresses.length === 0 || bad.length > 0)
    throw badInput(`url host ${host} resolves to a loopback or private address (${bad.join(', ') || 'none'}); production webhooks must reach public addresses`, { field: 'url' });
};

/**
 * A `lookup` for http(s).request that refuses non-public answers under the `public` policy, so a
 * name that resolved to a public address at registration cannot be re-pointed (DNS rebinding) at an
 * internal service: the address checked is the address connected to.
 */
export const guardedLookup = (policy: WebhookUrlPolicy): LookupFunction | undefined => {
  if (policy === 'any') return undefined;
  return ((hostname: string, options: object, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const ok = addresses.filter((a) => !isNonPublicAddress(a.address));
      if (ok.length === 0) return callback(Object.assign(new Error(`${hostname} resolves to a non-public address`), { code: 'EWEBHOOKPRIVATE' }), '', 0);
      if ((options as { all?: boolean }).all) return callback(null, ok);
      callback(null, ok[0].address, ok[0].family);
    });
  });
};
