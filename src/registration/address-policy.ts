import { isIPv4, isIPv6 } from 'node:net';

/**
 * Which IP addresses Gatehouse may connect to when it fetches a URL a stranger chose (a client metadata document).
 * Only globally routable unicast addresses are public; everything in the IANA special-purpose registries
 * (RFC 6890 and successors) is refused, and an IPv6 address that embeds an IPv4 one (IPv4-mapped, NAT64, 6to4)
 * is judged by the IPv4 address it reaches.
 */
export type AddressCategory =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'shared'
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'benchmarking'
  | 'reserved'
  | 'invalid';

export interface AddressClass {
  category: AddressCategory;
  /** The special-purpose range the address fell in (`10.0.0.0/8`), or null for public and invalid addresses. */
  range: string | null;
}

interface Range {
  cidr: string;
  base: bigint;
  prefix: number;
  category: Exclude<AddressCategory, 'public' | 'invalid'>;
}

function range(cidr: string, category: Range['category']): Range {
  const [address = '', prefix = ''] = cidr.split('/');
  const base = isIPv4(address) ? parseIpv4(address) : parseIpv6(address);
  if (base === null) throw new Error(`bad range ${cidr}`);
  return { cidr, base, prefix: Number(prefix), category };
}

/** First match wins: narrower ranges come before the wider ones that contain them. */
const IPV4_RANGES: readonly Range[] = [
  range('0.0.0.0/8', 'unspecified'), // "this network"
  range('10.0.0.0/8', 'private'),
  range('100.64.0.0/10', 'shared'), // carrier-grade NAT (RFC 6598)
  range('127.0.0.0/8', 'loopback'),
  range('169.254.0.0/16', 'link_local'), // includes cloud metadata services (169.254.169.254)
  range('172.16.0.0/12', 'private'),
  range('192.0.0.0/24', 'reserved'), // IETF protocol assignments
  range('192.0.2.0/24', 'documentation'),
  range('192.88.99.0/24', 'reserved'), // deprecated 6to4 relay anycast
  range('192.168.0.0/16', 'private'),
  range('198.18.0.0/15', 'benchmarking'),
  range('198.51.100.0/24', 'documentation'),
  range('203.0.113.0/24', 'documentation'),
  range('224.0.0.0/4', 'multicast'),
  range('255.255.255.255/32', 'broadcast'),
  range('240.0.0.0/4', 'reserved'),
];

const IPV6_RANGES: readonly Range[] = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('::/96', 'reserved'), // deprecated IPv4-compatible addresses
  range('::ffff:0:0:0/96', 'reserved'), // SIIT IPv4-translated addresses
  range('64:ff9b:1::/48', 'reserved'), // local-use NAT64: reaches whatever the local translator says
  range('100::/64', 'reserved'), // discard-only
  range('2001:db8::/32', 'documentation'),
  range('2001::/23', 'reserved'), // IETF protocol assignments, including Teredo (2001::/32)
  range('3fff::/20', 'documentation'),
  range('5f00::/16', 'reserved'), // SRv6 SIDs
  range('fc00::/7', 'private'), // unique local addresses
  range('fe80::/10', 'link_local'),
  range('fec0::/10', 'reserved'), // deprecated site-local
  range('ff00::/8', 'multicast'),
];

/** IPv6 prefixes whose addresses carry an IPv4 address, and where in the 128 bits it sits (its lowest bit). */
const EMBEDDING_PREFIXES: ReadonlyArray<{ prefix: Range; shift: bigint; label: string }> = [
  { prefix: range('::ffff:0:0/96', 'reserved'), shift: 0n, label: 'IPv4-mapped' },
  { prefix: range('64:ff9b::/96', 'reserved'), shift: 0n, label: 'NAT64' },
  { prefix: range('2002::/16', 'reserved'), shift: 80n, label: '6to4' },
];

/** Everything outside 2000::/3 is not global unicast (RFC 4291 §2.4). */
const GLOBAL_UNICAST = range('2000::/3', 'reserved');

export function classifyAddress(address: string): AddressClass {
  if (isIPv4(address)) {
    const value = parseIpv4(address);
    return value === null ? { category: 'invalid', range: null } : classifyIpv4(value);
  }
  const value = parseIpv6(address);
  if (value === null) return { category: 'invalid', range: null };
  for (const embedding of EMBEDDING_PREFIXES) {
    if (!inRange(value, embedding.prefix, 128)) continue;
    const ipv4 = (value >> embedding.shift) & 0xffffffffn;
    const inner = classifyIpv4(ipv4);
    return inner.category === 'public' ? inner : { category: inner.category, range: `${inner.range} (${embedding.label} ${formatIpv4(ipv4)})` };
  }
  const special = IPV6_RANGES.find((candidate) => inRange(value, candidate, 128));
  if (special) return { category: special.category, range: special.cidr };
  if (!inRange(value, GLOBAL_UNICAST, 128)) return { category: 'reserved', range: 'outside 2000::/3' };
  return { category: 'public', range: null };
}

/**
 * Whether Gatehouse may connect to this address. Only public addresses, plus loopback when the operator turned
 * `CIMD_ALLOW_LOOPBACK` on for local development: never private, link-local or any other special range.
 */
export function isAddressAllowed(address: string, { allowLoopback }: { allowLoopback: boolean }): boolean {
  const { category } = classifyAddress(address);
  return category === 'public' || (allowLoopback && category === 'loopback');
}

const CATEGORY_DESCRIPTIONS: Record<AddressCategory, string> = {
  public: 'a public address',
  loopback: 'a loopback address',
  private: 'a private address',
  link_local: 'a link-local address',
  shared: 'a carrier-grade NAT address',
  unspecified: 'an unspecified address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
  documentation: 'a documentation address',
  benchmarking: 'a benchmarking address',
  reserved: 'a reserved address',
  invalid: 'something that is not an IP address',
};

/** "a private address": the sentence of the refusal's description (the address and its range are auditDetail). */
export function describeAddressCategory(category: AddressCategory): string {
  return CATEGORY_DESCRIPTIONS[category];
}

function classifyIpv4(value: bigint): AddressClass {
  const special = IPV4_RANGES.find((candidate) => inRange(value, candidate, 32));
  return special ? { category: special.category, range: special.cidr } : { category: 'public', range: null };
}

function inRange(value: bigint, candidate: Range, bits: number): boolean {
  const shift = BigInt(bits - candidate.prefix);
  return value >> shift === candidate.base >> shift;
}

function parseIpv4(address: string): bigint | null {
  const parts = address.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null;
    value = (value << 8n) | BigInt(Number(part));
  }
  return value;
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

/** The 128-bit value of an IPv6 address, with `::` expanded and a dotted IPv4 tail folded in; a zone id is ignored. */
function parseIpv6(input: string): bigint | null {
  let text = input.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  if (!isIPv6(text)) return null;
  const dotted = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text)?.[1];
  if (dotted !== undefined) {
    const ipv4 = parseIpv4(dotted);
    if (ipv4 === null) return null;
    text = `${text.slice(0, -dotted.length)}${(ipv4 >> 16n).toString(16)}:${(ipv4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  let value = 0n;
  for (const word of [...head, ...Array<string>(missing).fill('0'), ...tail]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(word)) return null;
    value = (value << 16n) | BigInt(parseInt(word, 16));
  }
  return value;
}
