import ipaddr from 'ipaddr.js';

/**
 * Which addresses a catalog fetch may connect to. A tenant controls catalog_url, so the URL is hostile
 * input: without this check it reaches the metadata service, the database or anything else on the
 * operator's network (OWASP API7, SSRF). The rule is an allow-list: public unicast only.
 */

/** Why an address is refused, or undefined when it is a public unicast address. */
export function forbiddenReason(address: string): string | undefined {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // parse(), not process(): an IPv4-mapped IPv6 address must be judged by its embedded IPv4 below.
    parsed = ipaddr.parse(stripBrackets(address));
  } catch {
    return 'not an IP address';
  }
  try {
    return parsed.kind() === 'ipv4' ? ipv4Reason(parsed as ipaddr.IPv4) : ipv6Reason(parsed as ipaddr.IPv6);
  } catch {
    // Fail closed: an address we cannot classify is not one we connect to.
    return 'unclassifiable address';
  }
}

export function isPublicAddress(address: string): boolean {
  return forbiddenReason(address) === undefined;
}

function ipv4Reason(ip: ipaddr.IPv4): string | undefined {
  const range = ip.range();
  // ipaddr.js names loopback, private, linkLocal (169.254/16 with the cloud metadata address),
  // carrierGradeNat, multicast, broadcast, unspecified (0/8), reserved (192.0.0/24, TEST-NETs,
  // 198.18/15, 240/4), as112, amt …; anything not plain 'unicast' is refused.
  if (range !== 'unicast') return `${range} address`;
  // Belt and braces for ranges a future ipaddr.js might classify differently.
  const [a, b] = ip.octets as [number, number, number, number];
  if (a === 0 || a === 10 || a === 127 || a >= 224) return 'reserved address';
  if (a === 169 && b === 254) return 'linkLocal address';
  if (a === 172 && b >= 16 && b <= 31) return 'private address';
  if (a === 192 && b === 168) return 'private address';
  if (a === 100 && b >= 64 && b <= 127) return 'carrierGradeNat address';
  return undefined;
}

const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');
const NAT64_LOCAL = ipaddr.parseCIDR('64:ff9b:1::/48');

function ipv6Reason(ip: ipaddr.IPv6): string | undefined {
  const range = ip.range();
  // Addresses that carry an IPv4 address inside: the packet ends up at that IPv4 address, so judge it.
  if (range === 'ipv4Mapped' || range === 'rfc6145') return embedded(lastFour(ip), 'IPv4-mapped');
  if (range === 'rfc6052') {
    if (ip.match(NAT64_LOCAL)) return 'local-use NAT64 address';
    return embedded(lastFour(ip), 'NAT64');
  }
  if (range === '6to4') return embedded(new ipaddr.IPv4(ip.toByteArray().slice(2, 6)), '6to4');
  // ::a.b.c.d (deprecated IPv4-compatible) and every other non-global block: ipaddr.js calls some of
  // them 'unicast', so only the global unicast block 2000::/3 is accepted, minus its special ranges.
  if (range !== 'unicast') return `${range} address`;
  if (!ip.match(GLOBAL_UNICAST)) return 'non-global IPv6 address';
  return undefined;
}

function lastFour(ip: ipaddr.IPv6): ipaddr.IPv4 {
  return new ipaddr.IPv4(ip.toByteArray().slice(12, 16));
}

function embedded(v4: ipaddr.IPv4, what: string): string | undefined {
  const reason = ipv4Reason(v4);
  return reason ? `${what} address embedding a ${reason} (${v4.toString()})` : undefined;
}

export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
