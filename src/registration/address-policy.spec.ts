import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { classifyAddress, describeAddressCategory, isAddressAllowed, type AddressCategory } from './address-policy.js';

const LOOPBACK_OFF = { allowLoopback: false };
const LOOPBACK_ON = { allowLoopback: true };

function assertCategory(address: string, category: AddressCategory, range?: string): void {
  const actual = classifyAddress(address);
  assert.equal(actual.category, category, `${address}: ${JSON.stringify(actual)}`);
  if (range !== undefined) assert.equal(actual.range, range, address);
}

describe('classifyAddress, IPv4', () => {
  it('refuses every special-purpose range, at both of its edges', () => {
    const cases: Array<[string, string, AddressCategory, string]> = [
      ['0.0.0.0', '0.255.255.255', 'unspecified', '0.0.0.0/8'],
      ['10.0.0.0', '10.255.255.255', 'private', '10.0.0.0/8'],
      ['100.64.0.0', '100.127.255.255', 'shared', '100.64.0.0/10'],
      ['127.0.0.0', '127.255.255.255', 'loopback', '127.0.0.0/8'],
      ['169.254.0.0', '169.254.255.255', 'link_local', '169.254.0.0/16'],
      ['172.16.0.0', '172.31.255.255', 'private', '172.16.0.0/12'],
      ['192.0.0.0', '192.0.0.255', 'reserved', '192.0.0.0/24'],
      ['192.0.2.0', '192.0.2.255', 'documentation', '192.0.2.0/24'],
      ['192.88.99.0', '192.88.99.255', 'reserved', '192.88.99.0/24'],
      ['192.168.0.0', '192.168.255.255', 'private', '192.168.0.0/16'],
      ['198.18.0.0', '198.19.255.255', 'benchmarking', '198.18.0.0/15'],
      ['198.51.100.0', '198.51.100.255', 'documentation', '198.51.100.0/24'],
      ['203.0.113.0', '203.0.113.255', 'documentation', '203.0.113.0/24'],
      ['224.0.0.0', '239.255.255.255', 'multicast', '224.0.0.0/4'],
      ['240.0.0.0', '255.255.255.254', 'reserved', '240.0.0.0/4'],
    ];
    for (const [first, last, category, range] of cases) {
      assertCategory(first, category, range);
      assertCategory(last, category, range);
      assert.equal(isAddressAllowed(first, LOOPBACK_OFF), false, first);
      assert.equal(isAddressAllowed(last, LOOPBACK_OFF), false, last);
    }
    assertCategory('255.255.255.255', 'broadcast', '255.255.255.255/32');
    assertCategory('169.254.169.254', 'link_local', '169.254.0.0/16');
  });

  it('allows the public addresses just outside them', () => {
    for (const address of [
      '1.0.0.0',
      '9.255.255.255',
      '11.0.0.0',
      '100.63.255.255',
      '100.128.0.0',
      '126.255.255.255',
      '128.0.0.0',
      '169.253.255.255',
      '169.255.0.0',
      '172.15.255.255',
      '172.32.0.0',
      '192.0.1.255',
      '192.0.3.0',
      '192.167.255.255',
      '192.169.0.0',
      '198.17.255.255',
      '198.20.0.0',
      '223.255.255.255',
      '8.8.8.8',
      '93.184.216.34',
    ]) {
      assertCategory(address, 'public');
      assert.equal(isAddressAllowed(address, LOOPBACK_OFF), true, address);
    }
  });

  it('names the exact edges the issue lists', () => {
    assert.equal(isAddressAllowed('172.15.255.255', LOOPBACK_OFF), true);
    assert.equal(isAddressAllowed('172.16.0.0', LOOPBACK_OFF), false);
    assert.equal(isAddressAllowed('100.63.255.255', LOOPBACK_OFF), true);
    assert.equal(isAddressAllowed('100.64.0.0', LOOPBACK_OFF), false);
  });
});

describe('classifyAddress, IPv6', () => {
  it('refuses loopback, unspecified, unique local, link-local, multicast and the other special ranges', () => {
    const cases: Array<[string, AddressCategory, string]> = [
      ['::1', 'loopback', '::1/128'],
      ['0:0:0:0:0:0:0:1', 'loopback', '::1/128'],
      ['::', 'unspecified', '::/128'],
      ['fc00::', 'private', 'fc00::/7'],
      ['fd12:3456:789a::1', 'private', 'fc00::/7'],
      ['fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'private', 'fc00::/7'],
      ['fe80::', 'link_local', 'fe80::/10'],
      ['fe80::1%eth0', 'link_local', 'fe80::/10'],
      ['febf:ffff::1', 'link_local', 'fe80::/10'],
      ['fec0::1', 'reserved', 'fec0::/10'],
      ['ff00::', 'multicast', 'ff00::/8'],
      ['ff02::1', 'multicast', 'ff00::/8'],
      ['2001:db8::1', 'documentation', '2001:db8::/32'],
      ['2001::1', 'reserved', '2001::/23'],
      ['100::1', 'reserved', '100::/64'],
      ['::7f00:1', 'reserved', '::/96'],
      ['::ffff:0:7f00:1', 'reserved', '::ffff:0:0:0/96'],
      ['64:ff9b:1::1', 'reserved', '64:ff9b:1::/48'],
      ['3fff::1', 'documentation', '3fff::/20'],
      ['1234::1', 'reserved', 'outside 2000::/3'],
      ['e000::1', 'reserved', 'outside 2000::/3'],
    ];
    for (const [address, category, range] of cases) {
      assertCategory(address, category, range);
      assert.equal(isAddressAllowed(address, LOOPBACK_OFF), false, address);
    }
  });

  it('judges an IPv4-mapped address by the IPv4 address it reaches, in either notation', () => {
    assertCategory('::ffff:127.0.0.1', 'loopback', '127.0.0.0/8 (IPv4-mapped 127.0.0.1)');
    assertCategory('::ffff:7f00:1', 'loopback', '127.0.0.0/8 (IPv4-mapped 127.0.0.1)');
    assertCategory('0:0:0:0:0:ffff:7f00:0001', 'loopback');
    assertCategory('::ffff:10.0.0.1', 'private');
    assertCategory('::ffff:a9fe:a9fe', 'link_local', '169.254.0.0/16 (IPv4-mapped 169.254.169.254)');
    assertCategory('::ffff:100.64.0.0', 'shared');
    assertCategory('::ffff:0.0.0.0', 'unspecified');
    assertCategory('::ffff:8.8.8.8', 'public');
    assert.equal(isAddressAllowed('::ffff:127.0.0.1', LOOPBACK_OFF), false);
    assert.equal(isAddressAllowed('::ffff:8.8.8.8', LOOPBACK_OFF), true);
  });

  it('judges NAT64 and 6to4 addresses by the IPv4 address they embed', () => {
    assertCategory('64:ff9b::a00:1', 'private', '10.0.0.0/8 (NAT64 10.0.0.1)');
    assertCategory('64:ff9b::169.254.169.254', 'link_local');
    assertCategory('64:ff9b::808:808', 'public');
    assertCategory('2002:7f00:1::1', 'loopback', '127.0.0.0/8 (6to4 127.0.0.1)');
    assertCategory('2002:c0a8:101::1', 'private');
    assertCategory('2002:808:808::1', 'public');
  });

  it('allows global unicast addresses', () => {
    for (const address of ['2606:4700:4700::1111', '2a00:1450:4001:82a::200e', '2001:4860:4860::8888', '2400:cb00::1']) {
      assertCategory(address, 'public');
      assert.equal(isAddressAllowed(address, LOOPBACK_OFF), true, address);
    }
  });

  it('accepts a bracketed literal as URL host names write it', () => {
    assertCategory('[::1]', 'loopback');
    assertCategory('[2606:4700:4700::1111]', 'public');
  });
});

describe('isAddressAllowed', () => {
  it('with the loopback switch on, admits loopback (also IPv4-mapped) and nothing else that is not public', () => {
    for (const address of ['127.0.0.1', '127.255.255.254', '::1', '::ffff:127.0.0.1']) {
      assert.equal(isAddressAllowed(address, LOOPBACK_OFF), false, address);
      assert.equal(isAddressAllowed(address, LOOPBACK_ON), true, address);
    }
    for (const address of ['10.0.0.1', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1']) {
      assert.equal(isAddressAllowed(address, LOOPBACK_ON), false, address);
    }
  });

  it('refuses anything that is not an IP address', () => {
    for (const value of ['', 'localhost', '127.0.0.1.nip.io', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4x', ':::', '1::2::3', 'gggg::1']) {
      assertCategory(value, 'invalid');
      assert.equal(isAddressAllowed(value, LOOPBACK_ON), false, value);
    }
  });
});

describe('describeAddressCategory', () => {
  it('says what kind of address it is, without the address', () => {
    assert.equal(describeAddressCategory(classifyAddress('10.1.2.3').category), 'a private address');
    assert.equal(describeAddressCategory(classifyAddress('169.254.169.254').category), 'a link-local address');
    assert.equal(describeAddressCategory(classifyAddress('::ffff:127.0.0.1').category), 'a loopback address');
    assert.equal(describeAddressCategory(classifyAddress('100.64.0.1').category), 'a carrier-grade NAT address');
  });
});
