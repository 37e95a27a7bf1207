// Issue 19: certificate names compared exactly (RFC 6125 §6.4): only LDH names as the certificate
// carries them, ASCII case folded, wildcard only as the whole left-most label; odd spellings are
// refused instead of normalised; the optional SHA-256 pin; Node's subjectaltname text read whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ClientCertificate } from '../../src/domain/types.ts';
import { certificateNameMatches, connectorCertificateName, fingerprintPinned, presentedNameProblem, presentedNames } from '../../src/policy/certificate-names.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { matchConnector } from '../../src/policy/connectors.ts';
import { policySchema } from '../../src/config/policy-schema.ts';
import { subjectAltDnsNames } from '../../src/smtp/hooks/on-secure.ts';

const NOW = Date.parse('2026-11-30T00:00:00Z');
const FP = 'AB:'.repeat(31) + 'AB';

function cert(cn: string | null, san: string[] = [], fingerprint256 = FP): ClientCertificate {
  return { subjectCN: cn, dnsNames: san, verified: true, verifyError: null, validFrom: '2026-01-01T00:00:00Z', validTo: '2027-01-01T00:00:00Z', fingerprint256 };
}

test('odd spellings of a name are refused, never normalised', () => {
  const odd = [
    'relay.ours.test ', ' relay.ours.test', 'relay.ours.test.', 'relay.ours.test\t', 'relay .ours.test',
    '\uff52\uff45\uff4c\uff41\uff59.ours.test', 'rel\u00aday.ours.test', 'relay\u200b.ours.test', 'relay.ours.test\u0000.partner.test',
    'relay.ours.t\u0117st', 'RELAY.OURS.TEST\u212a', 'relay..ours.test', '-relay.ours.test', 'relay_1.ours.test', 'relay.ours.test,x',
    'f*.ours.test', '*relay.ours.test', 'relay.*.test', '*.test', '*', '', `${'a'.repeat(64)}.test`,
  ];
  for (const name of odd) assert.notEqual(presentedNameProblem(name), null, JSON.stringify(name));
  assert.deepEqual(presentedNames(cert('relay.ours.test ')), []);
  assert.deepEqual(presentedNames(cert(null, ['RELAY.Ours.Test', 'relay.ours.test.', '*.Ours.Test', 'xn--bcher-kva.test'])), ['relay.ours.test', '*.ours.test', 'xn--bcher-kva.test']);
});

test('property: a name with any character outside LDH, anywhere, is never presented', () => {
  const ldh = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
  const bad = fc.constantFrom(' ', '.', '\u00ad', '\u200b', '\u0000', '\uff0e', 'é', '_', '\\', '"', ',', '\n', '*');
  fc.assert(fc.property(fc.array(ldh, { minLength: 2, maxLength: 4 }), bad, fc.nat(), (labels, c, at) => {
    const name = labels.join('.');
    const i = at % (name.length + 1);
    const spoiled = name.slice(0, i) + c + name.slice(i);
    if (c === '.' && presentedNameProblem(spoiled) === null) return spoiled.split('.').every((l) => l.length > 0);
    if (c === '*' && i === 0) return true; // `*x.a.b`: partial wildcard, refused, checked above
    return presentedNameProblem(spoiled) !== null;
  }));
});

test('held up: wildcard depth, partial wildcards, CN only without SAN', () => {
  assert.ok(certificateNameMatches('relay.ours.test', ['*.ours.test']));
  assert.ok(!certificateNameMatches('a.relay.ours.test', ['*.ours.test']));
  assert.ok(!certificateNameMatches('ours.test', ['*.ours.test']));
  assert.ok(certificateNameMatches('*.ours.test', ['relay.ours.test']));
  assert.ok(!certificateNameMatches('*.ours.test', ['a.relay.ours.test']));
  assert.deepEqual(presentedNames(cert('relay.ours.test', ['other.example'])), ['other.example']);
  assert.deepEqual(presentedNames(cert('relay.ours.test', ['relay.ours.test '])), [], 'a refused SAN does not let the CN stand in');
  assert.deepEqual(presentedNames(cert('relay.ours.test, other.example')), [], 'several CNs (joined by on-secure) match nothing');
});

test('connector names are administrator input: IDN and a trailing dot are accepted, then compared exactly', () => {
  assert.equal(connectorCertificateName('Relay.Ours.Test.'), 'relay.ours.test');
  assert.equal(connectorCertificateName('mx.bücher.example'), 'mx.xn--bcher-kva.example');
  assert.equal(connectorCertificateName('*.ours.test'), '*.ours.test');
  assert.equal(connectorCertificateName('relay_1.ours.test'), null);
  const r = policySchema.safeParse({ connectors: [{ name: 'x', type: 'partner', tlsSenderCertificateName: 'f*.ours.test' }] });
  assert.equal(r.success, false);
  assert.match(r.success ? '' : r.error.issues[0].message, /not a host name or \*\.domain/);
});

function policyWith(connector: Record<string, unknown>) {
  return compilePolicy(policySchema.parse({ acceptedDomains: [{ domain: 'ours.test' }], connectors: [{ name: 'relay', type: 'onPremises', ...connector }] }), 1);
}

test('matchConnector: an odd CN matches nothing and the reason says why', () => {
  const policy = policyWith({ tlsSenderCertificateName: 'relay.ours.test' });
  const m = matchConnector(policy, { remoteIp: '198.51.100.7', tlsActive: true, certificate: cert('relay.ours.test.'), p1Domain: 'ours.test', nowMs: NOW });
  assert.equal(m.kind, 'none');
  assert.match(m.reasons.join('\n'), /"relay\.ours\.test\." has a trailing dot: not compared/);
  const ok = matchConnector(policy, { remoteIp: '198.51.100.7', tlsActive: true, certificate: cert('Relay.Ours.Test'), p1Domain: 'ours.test', nowMs: NOW });
  assert.equal(ok.kind, 'matched');
});

test('fingerprint pin: name and pin must both hold; a pin alone is enough; any notation is accepted', () => {
  const pinned = policyWith({ tlsSenderCertificateName: 'relay.ours.test', certificateFingerprints: [FP.replace(/:/g, '').toLowerCase()] });
  const q = (c: ClientCertificate) => matchConnector(pinned, { remoteIp: '198.51.100.7', tlsActive: true, certificate: c, p1Domain: 'ours.test', nowMs: NOW }).kind;
  assert.equal(q(cert('relay.ours.test')), 'matched');
  assert.equal(q(cert('relay.ours.test', [], 'CD:'.repeat(31) + 'CD')), 'none');
  assert.equal(q(cert('other.ours.test')), 'none');
  const pinOnly = policyWith({ certificateFingerprints: [`sha256:${FP}`] });
  assert.equal(matchConnector(pinOnly, { remoteIp: '198.51.100.7', tlsActive: true, certificate: cert('anything.example'), p1Domain: 'ours.test', nowMs: NOW }).kind, 'matched');
  assert.ok(fingerprintPinned(undefined, cert('x')));
  assert.ok(!fingerprintPinned(['not a fingerprint'], cert('x')));
  assert.equal(policySchema.safeParse({ connectors: [{ name: 'x', type: 'partner', certificateFingerprints: ['abc'] }] }).success, false);
});

test('subjectaltname: quoted values are read whole, so one crafted entry is never two names', () => {
  assert.deepEqual(subjectAltDnsNames('DNS:a.test, DNS:b.test, IP Address:192.0.2.1'), ['a.test', 'b.test']);
  // What Node 24 prints for a dNSName "a.test, DNS:relay.ours.test" (made with openssl): quoted, comma escaped.
  assert.deepEqual(subjectAltDnsNames('DNS:"a.test\\u002c DNS:relay.ours.test", DNS:c.test'), ['a.test, DNS:relay.ours.test', 'c.test']);
  assert.deepEqual(subjectAltDnsNames('DNS:"x\\"y", email:"\\"a,b\\"@c", DNS:d.test'), ['x"y', 'd.test']);
  assert.deepEqual(subjectAltDnsNames(''), []);
  assert.deepEqual(presentedNames(cert(null, subjectAltDnsNames('DNS:"a.test, DNS:relay.ours.test"'))), []);
});
