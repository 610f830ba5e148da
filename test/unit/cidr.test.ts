// A CIDR is parsed once, to bytes with the host bits cleared (or refused).
import { strict as assert } from 'node:assert';
import { CidrError, parseCidr } from '../../src/sessions/cidr';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('parseCidr', () => {
  it('gives family, prefix in its family, masked bytes and normalized text', () => {
    const cases: Array<[string, 4 | 6, number, string, string]> = [
      ['10.0.0.0/8', 4, 8, '0a000000', '10.0.0.0/8'],
      ['10.1.2.3/8', 4, 8, '0a000000', '10.0.0.0/8'],
      ['192.0.2.7', 4, 32, 'c0000207', '192.0.2.7/32'],
      ['2001:DB8:0:0:1::/64', 6, 64, '20010db8000000000000000000000000', '2001:db8::/64'],
      ['::ffff:10.1.2.3/120', 6, 120, '00000000000000000000ffff0a010200', '::ffff:10.1.2.0/120'],
      ['::/0', 6, 0, '00000000000000000000000000000000', '::/0'],
    ];
    for (const [text, family, prefix, bytes, normalized] of cases) {
      const c = parseCidr(text);
      assert.deepEqual([c.family, c.prefix, hex(c.bytes), c.text], [family, prefix, bytes, normalized], text);
    }
  });

  it('strict: host bits are refused, naming the network they stand for', () => {
    assert.throws(
      () => parseCidr('10.1.2.3/8', true),
      (err: CidrError) => err instanceof CidrError && err.detail.network === '10.0.0.0/8' && /did you mean 10\.0\.0\.0\/8/.test(err.message),
    );
    assert.equal(parseCidr('10.0.0.0/8', true).text, '10.0.0.0/8');
  });

  it('refuses what is not a network, saying why', () => {
    for (const bad of ['', '10.0.0.0/33', '10.0.0/8', '10.0.0.0/', '10.0.0.0/08', '::1/129', 'fe80::1%eth0', 'localhost', '10.0.0.0/8/8', ' 10.0.0.0/8']) {
      assert.throws(() => parseCidr(bad), CidrError, bad);
    }
    assert.throws(
      () => parseCidr('::1/129'),
      (e: CidrError) => e.detail.maxPrefix === 128 && e.detail.family === 6,
    );
    assert.throws(() => parseCidr(7 as unknown as string), /CIDR must be a string, got number/);
  });
});
