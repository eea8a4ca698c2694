import test from 'ava';
import { forbiddenReason, isPublicAddress } from '../../src/net/address-policy.js';

test('public unicast addresses pass', (t) => {
  for (const ip of ['93.184.216.34', '8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:82b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1']) {
    t.is(forbiddenReason(ip), undefined, ip);
  }
});

test('loopback, private, link-local, CGNAT, multicast, reserved and their IPv6 disguises are refused', (t) => {
  const refused: Record<string, RegExp> = {
    '127.0.0.1': /loopback/,
    '127.255.255.254': /loopback/,
    '10.1.2.3': /private/,
    '172.16.0.1': /private/,
    '172.31.255.255': /private/,
    '192.168.0.1': /private/,
    '169.254.169.254': /linkLocal/,
    '100.64.0.1': /carrierGradeNat/,
    '0.0.0.0': /unspecified/,
    '0.1.2.3': /unspecified/,
    '255.255.255.255': /broadcast/,
    '224.0.0.251': /multicast/,
    '239.255.255.250': /multicast/,
    '240.0.0.1': /reserved/,
    '192.0.0.1': /reserved/,
    '192.0.2.1': /reserved/,
    '198.18.5.5': /reserved/,
    '198.51.100.7': /reserved/,
    '203.0.113.9': /reserved/,
    '::1': /loopback/,
    '::': /unspecified/,
    'fc00::1': /uniqueLocal/,
    'fdff:ffff::1': /uniqueLocal/,
    'fe80::1': /linkLocal/,
    'ff02::1': /multicast/,
    '::ffff:127.0.0.1': /IPv4-mapped.*loopback/,
    '::ffff:169.254.169.254': /IPv4-mapped.*linkLocal.*169\.254\.169\.254/,
    '::ffff:10.0.0.1': /IPv4-mapped.*private/,
    '::ffff:0:10.0.0.1': /private/,
    '64:ff9b::10.0.0.1': /NAT64.*private/,
    '64:ff9b::169.254.169.254': /NAT64.*linkLocal/,
    '64:ff9b:1::1': /NAT64/,
    '2002:a00:1::1': /6to4.*private/,
    '2002:7f00:1::1': /6to4.*loopback/,
    '::127.0.0.1': /loopback|non-global/,
    '::7f00:1': /loopback|non-global/,
    '2001:db8::1': /reserved/,
    '2001::1': /teredo|reserved/,
    'fec0::1': /SiteLocal/,
    'not-an-ip': /not an IP/,
  };
  for (const [ip, why] of Object.entries(refused)) {
    t.false(isPublicAddress(ip), ip);
    t.regex(forbiddenReason(ip) ?? '', why, ip);
  }
});

test('WHATWG URL parsing normalises the obfuscated loopback forms before the check sees them', (t) => {
  for (const host of ['0x7f000001', '2130706433', '0177.0.0.1', '127.1', '0x7f.1', '017700000001']) {
    t.is(new URL(`https://${host}/`).hostname, '127.0.0.1', host);
  }
  t.is(new URL('https://[::ffff:169.254.169.254]/').hostname, '[::ffff:a9fe:a9fe]');
  t.false(isPublicAddress('::ffff:a9fe:a9fe'));
});
