// Issue 19: IPs parsed strictly, end to end. The CLI refuses legacy forms with exit 2 and a
// message naming the field; a policy written before the rules (an onPremises ::ffff:0:0/96, an
// octal entry) no longer makes anybody internal on the real listener, and `mxward audit` fails it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { hasCommand, mxward, run } from '../helpers/commands.ts';
import { dataPaths } from '../../src/config/data-dir.ts';

let gw: TestGateway;

before(async () => {
  gw = await startTestGateway({
    policy: (doc) => ({ ...doc, rejectDirectSend: 'enforce', acceptedDomains: [{ domain: 'ours.test', includeSubdomains: false, recipients: [] }] }),
  });
});
after(async () => { await gw.close(); });

/** Writes a document straight into the store, as a version from before the strict rules could have. */
async function writeLegacyPolicy(document: unknown): Promise<void> {
  const db = new DatabaseSync(dataPaths(gw.dataDir).store);
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    const row = db.prepare('SELECT version FROM policy WHERE id = 1').get() as { version: number };
    db.prepare('UPDATE policy SET version = ?, document = ? WHERE id = 1').run(row.version + 1, JSON.stringify(document));
    await gw.livePolicy.waitForVersion(row.version + 1);
  } finally {
    db.close();
  }
}

const legacyConnector = (name: string, ips: string[]) => ({
  name, type: 'onPremises', enabled: true, senderDomains: ['*'], senderIPAddresses: ips, tlsSenderCertificateName: null,
  restrictDomainsToIPAddresses: false, restrictDomainsToCertificate: false, requireTls: false, treatMessagesAsInternal: false, comment: '',
});

function relayAttempt(to: string) {
  return run('swaks', ['--server', `127.0.0.1:${gw.inbound.port}`, '--helo', 'client.example', '--from', 'it@ours.test', '--to', to, '--quit-after', 'RCPT', '--timeout', '10']);
}

test('connector test --ip 999.1.1.1 and other legacy forms: exit 2 with a clear message', async () => {
  for (const ip of ['999.1.1.1', '192.168.001.010', '127.1', '0x7f.0.0.1']) {
    const r = await mxward(gw.dataDir, ['connector', 'test', '--ip', ip]);
    assert.equal(r.code, 2, `${ip}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /--ip: not an IP address/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const ok = await mxward(gw.dataDir, ['connector', 'test', '--ip', '192.168.1.8']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('connector add: octal, IPv4-compatible and all-of-IPv4 entries are refused naming the field, nothing is written', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--type', 'partner', '--ip', '192.168.001.010'], /connectors\[\d+\]\.senderIPAddresses\[0\]: not an IP address or CIDR \("192\.168\.001\.010"\): octet "001" has a leading zero/],
    [['--type', 'partner', '--ip', '010.1.2.0/24'], /senderIPAddresses\[0\]: .*leading zero/],
    [['--type', 'partner', '--ip', '::1.2.3.4'], /senderIPAddresses\[0\]: .*IPv4-compatible/],
    [['--type', 'onPremises', '--ip', '::ffff:0:0/96'], /senderIPAddresses\[0\]: ::ffff:0:0\/96 covers all of IPv4/],
    [['--type', 'onPremises', '--ip', '10.0.0.0/8'], /senderIPAddresses\[0\]: 10\.0\.0\.0\/8 is wider than \/16/],
  ];
  for (const [args, message] of cases) {
    const r = await mxward(gw.dataDir, ['connector', 'add', 'bad', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const list = await mxward(gw.dataDir, ['connector', 'list', '--json']);
  assert.deepEqual(JSON.parse(list.stdout), []);
});

test('policy import: an onPremises ::ffff:0:0/96 is refused with the file and field', async () => {
  const file = join(gw.dataDir, 'policy.yaml');
  await writeFile(file, 'connectors:\n  - name: everything\n    type: onPremises\n    senderIPAddresses: ["::ffff:0:0/96"]\n');
  const r = await mxward(gw.dataDir, ['policy', 'import', file]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /connectors\[0\]\.senderIPAddresses\[0\]: ::ffff:0:0\/96 covers all of IPv4/);
});

test('a stored pre-rule policy: ::ffff:0:0/96 and 127.000.000.001 make nobody internal; the audit fails them', { skip: !hasCommand('swaks') && 'swaks not installed' }, async () => {
  // Control first: a proper entry for the client makes it internal, so relay passes RCPT.
  await writeLegacyPolicy({
    rejectDirectSend: 'enforce', rejectDirectSendHeaderFrom: 'report',
    acceptedDomains: [{ domain: 'ours.test', includeSubdomains: false, recipients: [] }],
    connectors: [legacyConnector('loopback', ['127.0.0.1'])],
  });
  assert.match((await relayAttempt('a@elsewhere.example')).stdout, /RCPT TO:<a@elsewhere\.example>\n<- {2}250 /);

  await writeLegacyPolicy({
    rejectDirectSend: 'enforce', rejectDirectSendHeaderFrom: 'report',
    acceptedDomains: [{ domain: 'ours.test', includeSubdomains: false, recipients: [] }],
    connectors: [legacyConnector('everything', ['::ffff:0:0/96']), legacyConnector('octal', ['127.000.000.001'])],
  });
  assert.match((await relayAttempt('b@elsewhere.example')).stdout, /<\*\* 550 5\.7\.64 TenantAttribution; Relay Access Denied/);
  const record = await gw.waitForTrace({ recipient: 'b@elsewhere.example' });
  assert.equal(record.attribution, 'anonymous');

  const explained = await mxward(gw.dataDir, ['connector', 'test', '--ip', '127.0.0.1']);
  assert.equal(explained.code, 0, explained.stderr);
  assert.match(explained.stdout, /matches no connector/);
  assert.match(explained.stdout, /connector "everything": ::ffff:0:0\/96 matches nothing: .*covers all of IPv4/);

  const audit = await mxward(gw.dataDir, ['audit', '--json']);
  assert.equal(audit.code, 1, audit.stderr);
  type Check = { id: string; status: string; findings: Array<{ detail: string }> };
  const checks = new Map((JSON.parse(audit.stdout).checks as Check[]).map((c) => [c.id, c]));
  const relay = checks.get('mxward.no-open-relay')!;
  assert.equal(relay.status, 'fail');
  assert.match(relay.findings.map((f) => f.detail).join('\n'), /"everything" makes ::ffff:0:0\/96 internal: .*covers all of IPv4/);
  assert.match(relay.findings.map((f) => f.detail).join('\n'), /"octal" lists "127\.000\.000\.001", not a strict IP address or CIDR/);
  const ranges = checks.get('mxward.connectors.ip-ranges')!;
  assert.equal(ranges.status, 'fail');
  assert.match(ranges.findings.map((f) => f.detail).join('\n'), /trusts ::ffff:0:0\/96 \(the whole Internet\)/);
});
