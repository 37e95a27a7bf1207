// The bootstrap file (listeners, TLS, limits) and the policy document: defaults, and errors that
// name the file, the line and the field path (DESIGN.md "ConfigError carries the path").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapSchema, defaultBootstrap, loadBootstrapFile } from '../../src/config/bootstrap.ts';
import { ConfigError } from '../../src/config/errors.ts';
import { defaultPolicy, policySchema } from '../../src/config/policy-schema.ts';
import { parseYamlWithSchema } from '../../src/config/yaml-source.ts';

let dir = '';
before(() => { dir = mkdtempSync(join(tmpdir(), 'mxward-bootstrap-')); });
after(() => { rmSync(dir, { recursive: true, force: true }); });

function writeConfig(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Loads a file that must fail and returns the ConfigError. */
function loadError(file: string): ConfigError {
  try {
    loadBootstrapFile(file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`${file} loaded without an error`);
}

test('a wrong type names the file, the line and the field path', () => {
  const file = writeConfig('wrong-type.yaml', [
    'hostname: mx.contoso.test', // 1
    'listeners:',                // 2
    '  inbound:',                // 3
    '    host: 0.0.0.0',         // 4
    '    port: twenty-five',     // 5
  ]);
  const err = loadError(file);
  assert.ok(err.message.startsWith(file), err.message);
  assert.equal(err.issues.length, 1, err.issues.join(' | '));
  assert.match(err.issues[0], /^line 5: listeners\.inbound\.port: /);
});

test('each bad field is reported on its own line number', () => {
  const file = writeConfig('several.yaml', [
    'limits:',                   // 1
    '  maxRecipients: 0',        // 2
    '  idleTimeoutMs: 1000',     // 3
    '  maxMessageBytes: lots',   // 4
    'policyPollMs: 5000',        // 5
  ]);
  const err = loadError(file);
  const byPath = new Map(err.issues.map((i) => {
    const m = /^line (\d+): ([^:]+): /.exec(i);
    assert.ok(m, `issue without line and path: ${i}`);
    return [m[2], Number(m[1])] as const;
  }));
  assert.equal(byPath.get('limits.maxRecipients'), 2);
  assert.equal(byPath.get('limits.maxMessageBytes'), 4);
  assert.equal(byPath.get('policyPollMs'), 5);
  assert.equal(byPath.size, 3, err.issues.join(' | '));
});

test('an unknown key is named with its own path and line', () => {
  const file = writeConfig('unknown-key.yaml', [
    'listeners:',                // 1
    '  inbound:',                // 2
    '    host: 127.0.0.1',       // 3
    '    port: 2525',            // 4
    '    prot: 25',              // 5: typo
  ]);
  const err = loadError(file);
  assert.equal(err.issues.length, 1, err.issues.join(' | '));
  assert.match(err.issues[0], /^line 5: listeners\.inbound\.prot: /);
});

test('a missing required field points at the mapping it belongs in', () => {
  const file = writeConfig('missing.yaml', [
    'hostname: mx.test',         // 1
    'listeners:',                // 2
    '  inbound:',                // 3
    '    host: 127.0.0.1',       // 4
  ]);
  const err = loadError(file);
  assert.equal(err.issues.length, 1, err.issues.join(' | '));
  assert.match(err.issues[0], /^line 4: listeners\.inbound\.port: /);
});

test('a YAML syntax error names the file and the line', () => {
  const file = writeConfig('syntax.yaml', [
    'hostname: mx.test',         // 1
    'listeners:',                // 2
    '  inbound: {host: x, port: 25', // 3: unterminated flow mapping
    'lookupPtr: true',           // 4
  ]);
  const err = loadError(file);
  assert.ok(err.message.startsWith(file), err.message);
  assert.match(err.issues[0], /^line [34]: /);
});

test('an unreadable file names the file', () => {
  const missing = join(dir, 'does-not-exist.yaml');
  const err = loadError(missing);
  assert.ok(err.message.includes(missing), err.message);
  assert.match(err.message, /ENOENT/);
});

test('an empty file gives the embedded defaults', () => {
  const file = writeConfig('empty.yaml', ['# nothing here']);
  const loaded = loadBootstrapFile(file);
  const defaults = defaultBootstrap();
  assert.deepEqual(loaded.listeners, defaults.listeners);
  assert.deepEqual(loaded.limits, defaults.limits);
});

test('embedded defaults: loopback 2525 and 2587, SIZE and limits, policy polled within a second', () => {
  const d = defaultBootstrap();
  assert.deepEqual(d.listeners.inbound, { host: '127.0.0.1', port: 2525 });
  assert.deepEqual(d.listeners.submission, { host: '127.0.0.1', port: 2587 });
  assert.ok(d.limits.maxMessageBytes > 0);
  assert.ok(d.limits.maxRecipients > 0);
  assert.ok(d.limits.maxConnectionsPerIp <= d.limits.maxConnections);
  assert.ok(d.policyPollMs <= 1000, 'SPEC §2: settings take effect within one second');
  assert.equal(d.lookupPtr, false);
  assert.equal(d.tls.certFile, undefined, 'no certificate configured: a self-signed one is generated');
});

test('a partial file keeps the defaults of what it does not set', () => {
  const file = writeConfig('partial.yaml', ['listeners:', '  inbound:', '    port: 25', '  submission: null']);
  const c = loadBootstrapFile(file);
  assert.deepEqual(c.listeners.inbound, { host: '127.0.0.1', port: 25 });
  assert.equal(c.listeners.submission, null);
  assert.equal(c.limits.maxRecipients, defaultBootstrap().limits.maxRecipients);
});

test('relative TLS and data paths are relative to the file, not to the working directory', () => {
  const file = writeConfig('paths.yaml', ['dataDir: data', 'tls:', '  certFile: tls/cert.pem', '  keyFile: /etc/mxward/key.pem']);
  const c = loadBootstrapFile(file);
  assert.equal(c.dataDir, join(dir, 'data'));
  assert.equal(c.tls.certFile, join(dir, 'tls', 'cert.pem'));
  assert.equal(c.tls.keyFile, '/etc/mxward/key.pem');
});

test('the schema refuses a port out of range', () => {
  assert.equal(bootstrapSchema.safeParse({ listeners: { inbound: { port: 70000 } } }).success, false);
});

// The policy document (SPEC §1-2; issue 2: enforce and report on a new install).
test('policy defaults: rejectDirectSend enforce, header-From report, nothing accepted', () => {
  const p = defaultPolicy();
  assert.equal(p.rejectDirectSend, 'enforce');
  assert.equal(p.rejectDirectSendHeaderFrom, 'report');
  assert.deepEqual(p.acceptedDomains, []);
  assert.deepEqual(p.connectors, []);
});

test('policy: connector defaults and normalised names', () => {
  const p = policySchema.parse({
    acceptedDomains: [{ domain: 'Bücher.Example.' }],
    connectors: [{ name: 'P', type: 'partner', senderDomains: ['*.Partner.EXAMPLE', '*'] }],
  });
  assert.deepEqual(p.acceptedDomains[0], { domain: 'xn--bcher-kva.example', includeSubdomains: false, recipients: [] });
  const c = p.connectors[0];
  assert.deepEqual(c.senderDomains, ['*.partner.example', '*']);
  assert.equal(c.enabled, true);
  assert.equal(c.requireTls, false);
  assert.equal(c.restrictDomainsToIPAddresses, false);
  assert.equal(c.restrictDomainsToCertificate, false);
  assert.equal(c.tlsSenderCertificateName, null);
  assert.deepEqual(c.senderIPAddresses, []);
});

test('policy YAML: a bad CIDR is named by line and path', () => {
  const text = [
    'rejectDirectSend: enforce',          // 1
    'connectors:',                        // 2
    '  - name: Printers',                 // 3
    '    type: onPremises',               // 4
    '    senderIPAddresses:',             // 5
    '      - 10.0.0.0/16',                // 6
    '      - 10.0.0.0/33',                // 7
  ].join('\n');
  assert.throws(() => parseYamlWithSchema(text, policySchema, 'policy.yaml'), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.issues.length, 1, err.issues.join(' | '));
    assert.match(err.issues[0], /^line 7: connectors\[0\]\.senderIPAddresses\[1\]: /);
    assert.ok(err.message.startsWith('policy.yaml: '));
    return true;
  });
});

test('policy YAML: a bad mode and a bad type', () => {
  const text = ['rejectDirectSend: always', 'connectors:', '  - name: X', '    type: friend'].join('\n');
  assert.throws(() => parseYamlWithSchema(text, policySchema, 'p.yaml'), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    const issues = err.issues.join('\n');
    assert.match(issues, /^line 1: rejectDirectSend: /m);
    assert.match(issues, /^line 4: connectors\[0\]\.type: /m);
    return true;
  });
});
