import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { DEFAULT_BIND, advertisedAddrs, pickDialAddresses } from '../../../src/session/local-addrs.js';

/** An interface table shaped like `os.networkInterfaces()` on a host with one Ethernet port. */
function iface(address: string, family: 'IPv4' | 'IPv6', internal = false): NetworkInterfaceInfo {
  const common = { address, netmask: '', mac: '00:00:00:00:00:00', internal, cidr: null };
  return family === 'IPv4' ? { ...common, family } : { ...common, family, scopeid: 0 };
}
const HOST: NodeJS.Dict<NetworkInterfaceInfo[]> = {
  lo: [iface('127.0.0.1', 'IPv4', true), iface('::1', 'IPv6', true)],
  eth0: [iface('192.0.2.2', 'IPv4'), iface('fd00::2', 'IPv6'), iface('fe80::fc:ff:fe00:1', 'IPv6'), iface('FE80::1%eth0', 'IPv6')],
  wg0: [iface('2001:db8::7', 'IPv6')],
};

describe('local addresses: what an endpoint binds, advertises and dials', () => {
  it('binds every interface by default, IPv4 and IPv6, as iroh and quinn', () => {
    assert.deepEqual(DEFAULT_BIND, ['0.0.0.0:0', '[::]:0']);
  });

  it('an unspecified bind is advertised as the interface addresses a peer can use, non-loopback first', () => {
    assert.deepEqual(advertisedAddrs(['0.0.0.0:4433', '[::]:4434'], HOST), [
      '192.0.2.2:4433',
      '[fd00::2]:4434',
      '[2001:db8::7]:4434',
      '127.0.0.1:4433',
      '[::1]:4434',
    ]);
  });

  it('never advertises an unspecified address or a link-local IPv6 one (no zone in a ticket)', () => {
    const all = advertisedAddrs(['0.0.0.0:1', '[::]:2', '[fe80::1]:3', '0.0.0.0:0'], HOST);
    assert.ok(!all.some((a) => /^\[fe80|^0\.0\.0\.0|^\[::\]/.test(a)), all.join(' '));
    // A host with only link-local IPv6 advertises no IPv6 address at all.
    assert.deepEqual(advertisedAddrs(['[::]:9'], { eth0: [iface('fe80::2', 'IPv6')] }), []);
  });

  it('a specific bind is advertised as it is; duplicates once', () => {
    assert.deepEqual(advertisedAddrs(['127.0.0.1:5000', '[::1]:5001', '127.0.0.1:5000'], HOST), ['127.0.0.1:5000', '[::1]:5001']);
  });

  it('dials every reachable address at once, non-loopback ones before loopback', () => {
    const any = ['0.0.0.0:7000', '[::]:7001'];
    assert.deepEqual(pickDialAddresses(['127.0.0.1:1', '192.0.2.9:2', '[2001:db8::9]:3'], any).addresses, ['192.0.2.9:2', '[2001:db8::9]:3', '127.0.0.1:1']);
    assert.deepEqual(pickDialAddresses(['127.0.0.1:1', '[::1]:3'], any).addresses, ['127.0.0.1:1', '[::1]:3']);
    const r = pickDialAddresses(['[fe80::1]:1', '[::1]:3'], any);
    assert.deepEqual(r.addresses, ['[::1]:3']);
    assert.match(r.why, /fe80::1\]:1: link-local/);
  });

  it('a socket bound to loopback dials only loopback addresses (the OS refuses the rest)', () => {
    const lo = ['127.0.0.1:7000', '[::1]:7001'];
    assert.deepEqual(pickDialAddresses(['192.0.2.9:2', '[2001:db8::9]:3', '127.0.0.1:1'], lo).addresses, ['127.0.0.1:1']);
    const none = pickDialAddresses(['192.0.2.9:2'], ['127.0.0.1:7000']);
    assert.deepEqual(none.addresses, []);
    assert.match(none.why, /192\.0\.2\.9:2: our IPv4 socket is bound to loopback \(127\.0\.0\.1:7000\)/);
  });

  it('only the first socket of a family counts (the driver sends from it)', () => {
    assert.deepEqual(pickDialAddresses(['192.0.2.9:2'], ['127.0.0.1:1', '0.0.0.0:2']).addresses, []);
    assert.deepEqual(pickDialAddresses(['192.0.2.9:2'], ['0.0.0.0:2', '127.0.0.1:1']).addresses, ['192.0.2.9:2']);
  });

  it('says why no address will do: family, port 0, unspecified, link-local, multicast', () => {
    const r = pickDialAddresses(['[2001:db8::1]:1', '127.0.0.1:0', '0.0.0.0:5', '[fe80::1]:5', '224.0.0.1:5', '[ff02::1]:5'], ['127.0.0.1:1']);
    assert.deepEqual(r.addresses, []);
    assert.equal(
      r.why,
      '[2001:db8::1]:1: no IPv6 socket; 127.0.0.1:0: port 0; 0.0.0.0:5: an unspecified address; ' +
        '[fe80::1]:5: link-local, and no zone says which interface; 224.0.0.1:5: not a unicast address; [ff02::1]:5: not a unicast address',
    );
  });
});
