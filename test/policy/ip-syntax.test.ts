// Issue 19: IPs parsed strictly everywhere. Legacy IPv4 forms (octal, hex, shortened) and the
// IPv4-compatible ::a.b.c.d are refused in the policy; ranges covering all of IPv4 are refused for
// every connector and ranges wider than the bound for onPremises ones; a stored document written
// before these rules matches nothing with such an entry. IPv4-mapped clients still match IPv4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { parseAddressStrict, parseCidrStrict, checkConnectorRange, DEFAULT_ON_PREMISES_MIN_PREFIX } from '../../src/policy/ip-syntax.ts';
import { compilePolicy, ipInRanges, parseIp } from '../../src/policy/compile.ts';
import { matchConnector } from '../../src/policy/connectors.ts';
import { authSchema } from '../../src/config/auth-schema.ts';
import { policySchema, storedPolicySchema } from '../../src/config/policy-schema.ts';

const refused = (text: string, opts?: { allowCompatible?: boolean }) => !parseAddressStrict(text, opts).ok;

test('legacy IPv4 forms are refused, with a reason that says why', () => {
  for (const text of ['192.168.001.010', '010.1.2.0', '0x7f.0.0.1', '127.1', '1.2.3', '1.2.3.4.5', '256.1.1.1', '999.1.1.1', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-4', '１.2.3.4', '']) {
    assert.ok(refused(text), JSON.stringify(text));
  }
  const octal = parseAddressStrict('192.168.001.010');
  assert.equal(octal.ok, false);
  assert.match(!octal.ok ? octal.reason : '', /leading zero.*octal/);
});

test('plain dotted-quad decimal and RFC 4291 IPv6 text are read as written', () => {
  const cases: Array<[string, string]> = [
    ['0.0.0.0', '0.0.0.0'], ['192.168.1.8', '192.168.1.8'], ['255.255.255.255', '255.255.255.255'],
    ['2001:db8::1', '2001:db8::1'], ['::', '::'], ['::1', '::1'], ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'], ['::ffff:192.0.2.1', '::ffff:c000:201'], ['0:0:0:0:0:ffff:192.0.2.1', '::ffff:c000:201'],
  ];
  for (const [text, expected] of cases) {
    const r = parseAddressStrict(text);
    assert.ok(r.ok, text);
    assert.equal(r.ok && r.address.toString(), expected, text);
  }
  for (const text of ['1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', ':1::', '1:2:3:4:5:6:7:8::', 'g::1', '::1.2.3', '::ffff:010.0.0.1']) {
    assert.ok(refused(text), text);
  }
});

test('IPv4-compatible ::a.b.c.d: refused in a policy, and the IPv6 address it is (not IPv4) for a client', () => {
  assert.ok(refused('::1.2.3.4'));
  assert.match((parseAddressStrict('::1.2.3.4') as { reason: string }).reason, /IPv4-compatible/);
  const client = parseIp('::1.2.3.4');
  assert.equal(client?.kind(), 'ipv6');
  assert.equal(client?.toString(), '::102:304');
  assert.equal(ipInRanges(client!, [[ipaddr.parse('1.2.3.0'), 24]]), false);
});

test('parseIp: mapped clients become IPv4, legacy forms are no address at all', () => {
  assert.equal(parseIp('::ffff:192.0.2.1')?.toString(), '192.0.2.1');
  assert.equal(parseIp('[::ffff:192.0.2.1]')?.kind(), 'ipv4');
  assert.equal(parseIp('fe80::1%eth0')?.toString(), 'fe80::1');
  assert.equal(parseIp('192.168.001.010'), null);
  assert.equal(parseIp('010.1.2.3'), null);
  assert.equal(parseIp('127.1'), null);
});

test('property: every dotted-quad and every IPv6 group list reads back as ipaddr.js reads it', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), (octets) => {
    const text = octets.join('.');
    const r = parseAddressStrict(text);
    return r.ok && r.address.toString() === ipaddr.parse(text).toString();
  }));
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), (groups) => {
    const address = new ipaddr.IPv6(groups);
    // toFixedLengthString (all 32 hex digits) exists in ipaddr.js 2.x but not in its typings.
    const fixed = (address as unknown as { toFixedLengthString(): string }).toFixedLengthString();
    for (const text of [address.toString(), address.toNormalizedString(), fixed]) {
      const r = parseAddressStrict(text, { allowCompatible: true });
      if (!r.ok || r.address.toString() !== address.toString()) return false;
    }
    return true;
  }));
  // Zero-padded octets never read as anything (where inet_aton would read octal).
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 99 }), { minLength: 4, maxLength: 4 }), fc.nat(3), (octets, i) => {
    const parts = octets.map(String);
    parts[i] = `0${parts[i]}`;
    return !parseAddressStrict(parts.join('.')).ok;
  }));
});

test('CIDR: strict prefix length, mapped ranges compared as IPv4', () => {
  assert.ok(!parseCidrStrict('10.0.0.0/033').ok);
  assert.ok(!parseCidrStrict('10.0.0.0/33').ok);
  assert.ok(!parseCidrStrict('010.1.2.0/24').ok);
  assert.ok(!parseCidrStrict('::1.2.3.0/120').ok);
  const mapped = checkConnectorRange('::ffff:192.0.2.0/120', false, DEFAULT_ON_PREMISES_MIN_PREFIX);
  assert.ok(mapped.ok);
  assert.equal(mapped.ok && `${mapped.range.address.kind()}/${mapped.range.bits}`, 'ipv4/24');
});

test('ranges covering all of IPv4 are refused for every connector; onPremises is bounded (/16, /48 by default)', () => {
  for (const text of ['::ffff:0:0/96', '0.0.0.0/0', '::/0', '::/80', '::ffff:0.0.0.0/96']) {
    const r = checkConnectorRange(text, false, DEFAULT_ON_PREMISES_MIN_PREFIX);
    assert.equal(r.ok, false, text);
  }
  assert.ok(checkConnectorRange('10.0.0.0/8', false, DEFAULT_ON_PREMISES_MIN_PREFIX).ok, 'a partner may be wide');
  assert.equal(checkConnectorRange('10.0.0.0/8', true, DEFAULT_ON_PREMISES_MIN_PREFIX).ok, false);
  assert.ok(checkConnectorRange('10.1.0.0/16', true, DEFAULT_ON_PREMISES_MIN_PREFIX).ok);
  assert.equal(checkConnectorRange('::ffff:10.0.0.0/100', true, DEFAULT_ON_PREMISES_MIN_PREFIX).ok, false, 'IPv4 /4 written as mapped IPv6');
  assert.equal(checkConnectorRange('2001:db8::/32', true, DEFAULT_ON_PREMISES_MIN_PREFIX).ok, false);
  assert.ok(checkConnectorRange('2001:db8:1::/48', true, DEFAULT_ON_PREMISES_MIN_PREFIX).ok);
});

const onPrem = (ips: string[]) => ({ name: 'lab', type: 'onPremises', senderIPAddresses: ips });

function issuesOf(doc: unknown): string[] {
  const r = policySchema.safeParse(doc);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('policy schema: a clear error naming the field for octal, compatible, all-of-IPv4 and too-wide entries', () => {
  assert.match(issuesOf({ connectors: [{ name: 'p', type: 'partner', senderIPAddresses: ['192.0.2.1', '192.168.001.010'] }] }).join('\n'),
    /^connectors\.0\.senderIPAddresses\.1: not an IP address or CIDR \("192\.168\.001\.010"\): octet "001" has a leading zero/m);
  assert.match(issuesOf({ connectors: [{ name: 'p', type: 'partner', senderIPAddresses: ['010.1.2.0/24'] }] }).join('\n'), /senderIPAddresses\.0: .*leading zero/);
  assert.match(issuesOf({ connectors: [{ name: 'p', type: 'partner', senderIPAddresses: ['::1.2.3.4'] }] }).join('\n'), /IPv4-compatible/);
  assert.match(issuesOf({ connectors: [onPrem(['::ffff:0:0/96'])] }).join('\n'), /connectors\.0\.senderIPAddresses\.0: ::ffff:0:0\/96 covers all of IPv4/);
  assert.match(issuesOf({ connectors: [onPrem(['192.0.2.1', '10.0.0.0/8'])] }).join('\n'), /^connectors\.0\.senderIPAddresses\.1: 10\.0\.0\.0\/8 is wider than \/16/m);
  assert.deepEqual(issuesOf({ connectors: [onPrem(['10.1.0.0/16', '2001:db8:1::/48', '::ffff:192.0.2.0/120'])] }), []);
  // The bound is a policy setting: an organisation that really needs a /8 says so.
  assert.deepEqual(issuesOf({ onPremisesMinPrefixLength: { ipv4: 8 }, connectors: [onPrem(['10.0.0.0/8'])] }), []);
  assert.match(issuesOf({ onPremisesMinPrefixLength: { ipv4: 8 }, connectors: [onPrem(['0.0.0.0/0'])] }).join('\n'), /covers all of IPv4/);
});

test('trustedHops are read with the same strict syntax', () => {
  const r = authSchema.safeParse({ trustedHops: ['192.0.2.0/24', '010.0.0.1', '::ffff:0:0/96'] });
  assert.equal(r.success, false);
  const issues = r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  assert.equal(issues.length, 2, issues.join('\n'));
  assert.match(issues[0], /^trustedHops\.1: .*leading zero/);
  assert.match(issues[1], /^trustedHops\.2: .*covers all of IPv4/);
  assert.ok(authSchema.safeParse({ trustedHops: ['192.0.2.0/24', '2001:db8::/64'] }).success);
});

test('a stored document written before the rules: such entries match nothing, the others still do', () => {
  const stored = storedPolicySchema.parse({
    acceptedDomains: [{ domain: 'ours.test' }],
    connectors: [
      { name: 'everything', type: 'onPremises', senderIPAddresses: ['::ffff:0:0/96'] },
      { name: 'octal', type: 'onPremises', senderIPAddresses: ['010.1.2.0/24', '192.0.2.7'] },
    ],
  });
  const policy = compilePolicy(stored, 1);
  assert.deepEqual(policy.connectors[0].refusedRanges.map((r) => r.text), ['::ffff:0:0/96']);
  assert.deepEqual(policy.connectors[1].refusedRanges.map((r) => r.text), ['010.1.2.0/24']);
  const q = (ip: string) => matchConnector(policy, { remoteIp: ip, tlsActive: false, certificate: null, p1Domain: 'ours.test', nowMs: 0 });
  assert.equal(q('203.0.113.9').kind, 'none', 'the all-of-IPv4 range made every client internal');
  assert.equal(q('::ffff:203.0.113.9').kind, 'none');
  assert.equal(q('8.1.2.3').kind, 'none', '010.1.2.0/24 used to be read as 8.1.2.0/24');
  assert.equal(q('10.1.2.3').kind, 'none');
  const kept = q('::ffff:192.0.2.7');
  assert.equal(kept.kind === 'matched' && kept.connector.settings.name, 'octal', 'an IPv4-mapped client matches its IPv4 entry');
});

test('loopback is this host: 127.0.0.0/8 may be internal whatever the bound', () => {
  assert.ok(checkConnectorRange('127.0.0.0/8', true, DEFAULT_ON_PREMISES_MIN_PREFIX).ok);
  assert.equal(checkConnectorRange('64.0.0.0/2', true, DEFAULT_ON_PREMISES_MIN_PREFIX).ok, false, 'a range merely containing loopback is not loopback');
});
