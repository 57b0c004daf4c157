import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../../src/codec/bytes.js';
import { formatIpPort, formatIpv6, parseIpPort, parseIpv4, parseIpv6 } from '../../../src/codec/ip.js';

describe('codec: IP text forms (RFC 4291 §2.2, RFC 5952)', () => {
  it('formats IPv6 as RFC 5952 text: lowercase, longest zero run as ::, mapped IPv4 as a dotted quad', () => {
    for (const [hex, text] of [
      ['20010db8000000000000000000000001', '2001:db8::1'],
      ['00000000000000000000000000000001', '::1'],
      ['00000000000000000000000000000000', '::'],
      ['20010db8000000010000000000000001', '2001:db8:0:1::1'], // the longer run
      ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'], // the first of two equal runs
      ['20010db8000100010001000100010001', '2001:db8:1:1:1:1:1:1'], // one zero group is not "::"
      ['00000000000000000000ffff7f000001', '::ffff:127.0.0.1'],
    ] as const) {
      assert.equal(formatIpv6(fromHex(hex)), text);
      assert.equal(toHex(parseIpv6(text)!), hex);
    }
    assert.equal(parseIpv6('1::2::3'), undefined);
    assert.equal(parseIpv6('12345::'), undefined);
    assert.equal(parseIpv4('1.2.3.04'), undefined);
    assert.equal(parseIpv4('256.0.0.1'), undefined);
  });

  it('ip:port and [ip]:port both ways, IPv4-mapped IPv6 as IPv4 (as noq compares addresses)', () => {
    assert.equal(formatIpPort(fromHex('7f000001'), 4433), '127.0.0.1:4433');
    assert.equal(formatIpPort(fromHex('20010db8000000000000000000000001'), 443), '[2001:db8::1]:443');
    assert.equal(formatIpPort(fromHex('00000000000000000000ffff0a000001'), 80), '10.0.0.1:80');
    assert.deepEqual(parseIpPort('127.0.0.1:4433'), { ip: fromHex('7f000001'), port: 4433 });
    assert.deepEqual(parseIpPort('[::1]:0'), { ip: fromHex('00000000000000000000000000000001'), port: 0 });
    assert.deepEqual(parseIpPort('[::ffff:10.0.0.1]:80'), { ip: fromHex('0a000001'), port: 80 });
    for (const bad of ['127.0.0.1', '::1:80', '[::1]', '[::1]:65536', 'localhost:80', 'relay:abcd@https://r.example', '[fe80::1%eth0]:80', '1.2.3.4:-1', '1.2.3.4:']) {
      assert.equal(parseIpPort(bad), undefined, bad);
    }
  });
});
