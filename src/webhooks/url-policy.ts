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
  ['fec0::', 10],
  ['ff00::', 8],
  // Teredo tunnels reach an IPv4 host through a relay: never a webhook's address.
  ['2001::', 32],
] as const)
  blocked.addSubnet(net, bits, 'ipv6');

/** The 16 bytes of an IPv6 address (any textual form, an embedded dotted quad included), or null. */
export const ipv6Bytes = (address: string): number[] | null => {
  if (isIP(address) !== 6) return null;
  let text = address.replace(/%.*$/, '');
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, null];
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = tail === null ? [] : groups(tail);
  const all = tail === null ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (all.length !== 8) return null;
  return all.flatMap((g) => {
    const v = parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
};

/**
 * The IPv4 address an IPv6 address carries, where it is one of the forms that reach that IPv4 host:
 * IPv4-mapped (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d) and
 * 6to4 (2002:AABB:CCDD::/48). `[::127.0.0.1]`, `[::ffff:0:7f00:1]` and `[2002:7f00:1::]` are 127.0.0.1.
 */
export const embeddedIpv4 = (address: string): string | null => {
  const b = ipv6Bytes(address);
  if (!b) return null;
  const v4 = (i: number) => b.slice(i, i + 4).join('.');
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12);
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) return v4(12);
  if (zero(0, 12) && !zero(12, 16)) return v4(12);
  if (b[0] === 0x20 && b[1] === 0x02) return v4(2);
  return null;
};

/** True for an address a production webhook must not reach. */
export const isNonPublicAddress = (address: string): boolean => {
  const family = isIP(address);
  if (family === 0) return true;
  if (family === 4) return blocked.check(address, 'ipv4');
  const v4 = embeddedIpv4(address);
  if (v4 !== null && blocked.check(v4, 'ipv4')) return true;
  return blocked.check(address, 'ipv6');
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
