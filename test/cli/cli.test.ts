// The mxward command line as a user runs it: `node bin/mxward.js …` as a child process against a
// temporary data directory. Checks outputs, exit codes (0 ok, 1 run-time failure, 2 usage or
// configuration error), one-line errors without stack traces, and the audit log behind changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { TraceRecord } from '../../src/domain/types.ts';

const bin = fileURLToPath(new URL('../../bin/mxward.js', import.meta.url));

let root = '';
before(() => { root = mkdtempSync(join(tmpdir(), 'mxward-cli-')); });
after(() => { rmSync(root, { recursive: true, force: true }); });

let dirCount = 0;
function freshDataDir(): string {
  dirCount += 1;
  const dir = join(root, `data-${dirCount}`);
  // Issue 16: only serve and init create a store; these tests start from an empty one.
  mkdirSync(dir, { recursive: true });
  void new SqliteStore(join(dir, 'mxward.db')).close();
  return dir;
}

/** The environment a user would have, without any MXWARD_* setting leaking in from the runner. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MXWARD_')) env[k] = v;
  return { ...env, ...extra };
}

interface Result { code: number | null; stdout: string; stderr: string }

function runCli(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Result> {
  return new Promise((resolveRun, rejectRun) => {
    // cwd in the temp root: a command that fell back to ./.mxward would not litter the checkout.
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: cleanEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', rejectRun);
    child.on('close', (code) => { clearTimeout(timer); resolveRun({ code, stdout, stderr }); });
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs against `dataDir` with a fixed actor, so audit entries can be checked. */
function mx(dataDir: string, args: string[], opts: { input?: string } = {}): Promise<Result> {
  return runCli([...args, '--data-dir', dataDir], { input: opts.input, env: { MXWARD_ACTOR: 'tester' } });
}

function ok(r: Result, what: string): void {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

/** A user error: the given exit code, exactly one line on stderr, no stack frames. */
function oneLineError(r: Result, code: number, pattern?: RegExp): string {
  assert.equal(r.code, code, `exit ${r.code}, want ${code}\nstderr: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s*at /m, 'stack frame on stderr');
  assert.doesNotMatch(r.stderr, /\.ts:\d+:\d+/, 'source position on stderr');
  if (pattern) assert.match(lines[0], pattern);
  return lines[0];
}

function json<T = unknown>(r: Result): T {
  ok(r, 'json command');
  return JSON.parse(r.stdout) as T;
}

async function auditOf(dataDir: string) {
  const store = new SqliteStore(join(dataDir, 'mxward.db'));
  try {
    return (await store.listAudit(1000)).reverse();
  } finally {
    await store.close();
  }
}

async function policyVersion(dataDir: string): Promise<number> {
  return json<{ policyVersion: number }>(await mx(dataDir, ['org', 'get', '--json'])).policyVersion;
}

// ---- domain ----------------------------------------------------------------------------------

test('domain add, list, remove; names normalised; duplicates and unknowns refused', async () => {
  const d = freshDataDir();
  ok(await mx(d, ['domain', 'add', 'Contoso.COM.']), 'add contoso');
  ok(await mx(d, ['domain', 'add', 'bücher.example', '--include-subdomains']), 'add IDN');
  ok(await mx(d, ['domain', 'add', 'dir.example', '--recipient', 'alice@dir.example', '--recipient', 'bob@dir.example']), 'add with directory');

  type Domain = { domain: string; includeSubdomains: boolean; recipients: string[] };
  const list = json<Domain[]>(await mx(d, ['domain', 'list', '--json']));
  assert.deepEqual(list.map((x) => x.domain), ['contoso.com', 'xn--bcher-kva.example', 'dir.example']);
  assert.equal(list[1].includeSubdomains, true);
  assert.equal(list[0].includeSubdomains, false);
  assert.deepEqual(list[2].recipients, ['alice@dir.example', 'bob@dir.example']);

  const table = await mx(d, ['domain', 'list']);
  ok(table, 'domain list');
  assert.match(table.stdout, /^contoso\.com\s+no\s/m);
  assert.match(table.stdout, /^xn--bcher-kva\.example\s+yes\s/m);

  oneLineError(await mx(d, ['domain', 'add', 'CONTOSO.com']), 2, /already/);
  oneLineError(await mx(d, ['domain', 'add', 'not a domain!']), 2, /not a domain/);
  oneLineError(await mx(d, ['domain', 'add']), 2, /DOMAIN/);

  ok(await mx(d, ['domain', 'remove', 'contoso.com.']), 'remove');
  const after = json<Domain[]>(await mx(d, ['domain', 'list', '--json']));
  assert.deepEqual(after.map((x) => x.domain), ['xn--bcher-kva.example', 'dir.example']);
  oneLineError(await mx(d, ['domain', 'remove', 'contoso.com']), 2, /not an accepted domain/);

  const audit = await auditOf(d);
  assert.deepEqual(audit.map((a) => a.action), ['domain.add', 'domain.add', 'domain.add', 'domain.remove']);
  assert.ok(audit.every((a) => a.actor === 'tester' && !Number.isNaN(Date.parse(a.time))));
  const removal = audit[3] as { old: { acceptedDomains: Domain[] }; new: { acceptedDomains: Domain[] } };
  assert.ok(removal.old.acceptedDomains.some((x) => x.domain === 'contoso.com'));
  assert.ok(!removal.new.acceptedDomains.some((x) => x.domain === 'contoso.com'));
});

test('domain add --recipient outside the domain is refused', async () => {
  const d = freshDataDir();
  oneLineError(await mx(d, ['domain', 'add', 'contoso.com', '--recipient', 'alice@elsewhere.example']), 2, /alice@elsewhere\.example/);
  assert.deepEqual(json(await mx(d, ['domain', 'list', '--json'])), []);
});

// ---- org -------------------------------------------------------------------------------------

test('org get shows the new-install defaults; org set changes them and writes the audit log', async () => {
  const d = freshDataDir();
  const first = json<{ rejectDirectSend: string; rejectDirectSendHeaderFrom: string }>(await mx(d, ['org', 'get', '--json']));
  assert.equal(first.rejectDirectSend, 'enforce');
  assert.equal(first.rejectDirectSendHeaderFrom, 'report');

  ok(await mx(d, ['org', 'set', '--reject-direct-send', 'report']), 'set report');
  ok(await runCli(['org', 'set', '--reject-direct-send-header-from', 'enforce', '--actor', 'alice@contoso.com', '--data-dir', d], { env: {} }), 'set hf with --actor');
  const now = json<{ rejectDirectSend: string; rejectDirectSendHeaderFrom: string }>(await mx(d, ['org', 'get', '--json']));
  assert.equal(now.rejectDirectSend, 'report');
  assert.equal(now.rejectDirectSendHeaderFrom, 'enforce');

  const plain = await mx(d, ['org', 'get']);
  ok(plain, 'org get');
  assert.match(plain.stdout, /rejectDirectSend\s+report/);

  oneLineError(await mx(d, ['org', 'set', '--reject-direct-send', 'always']), 2, /off, report or enforce/);
  oneLineError(await mx(d, ['org', 'set']), 2, /nothing to change/);
  oneLineError(await mx(d, ['org', 'frob']), 2, /unknown subcommand/);

  const audit = await auditOf(d);
  assert.deepEqual(audit.map((a) => [a.action, a.actor]), [['org.set', 'tester'], ['org.set', 'alice@contoso.com']]);
  const first2 = audit[0] as { old: { rejectDirectSend: string } | null; new: { rejectDirectSend: string } };
  assert.equal(first2.new.rejectDirectSend, 'report');
  assert.equal(first2.old === null ? 'enforce' : first2.old.rejectDirectSend, 'enforce');
});

// ---- connector -------------------------------------------------------------------------------

interface TestResult { result: string; connector: string | null; by: string | null; reasons: string[] }

test('connector add, set, list, test, remove', async () => {
  const d = freshDataDir();
  ok(await mx(d, ['connector', 'add', 'PartnerNet', '--type', 'partner', '--ip', '192.0.2.0/24', '--ip', '2001:db8::/32']), 'add ip');
  ok(await mx(d, ['connector', 'add', 'PartnerCert', '--type', 'partner', '--cert-name', '*.partner.example', '--sender-domain', 'partner.example']), 'add cert');
  ok(await mx(d, ['connector', 'add', 'Printers', '--type', 'onPremises', '--ip', '10.1.0.0/16', '--internal', 'true']), 'add onprem');

  type Conn = { name: string; type: string; enabled: boolean; senderDomains: string[]; senderIPAddresses: string[]; tlsSenderCertificateName: string | null; requireTls: boolean };
  let list = json<Conn[]>(await mx(d, ['connector', 'list', '--json']));
  assert.deepEqual(list.map((c) => [c.name, c.type]), [['PartnerNet', 'partner'], ['PartnerCert', 'partner'], ['Printers', 'onPremises']]);
  assert.deepEqual(list[0].senderDomains, ['*']);
  assert.deepEqual(list[0].senderIPAddresses, ['192.0.2.0/24', '2001:db8::/32']);
  assert.equal(list[1].tlsSenderCertificateName, '*.partner.example');

  // set changes what it names and keeps the rest.
  ok(await mx(d, ['connector', 'set', 'partnernet', '--require-tls', 'true', '--comment', 'the partner']), 'set');
  list = json<Conn[]>(await mx(d, ['connector', 'list', '--json']));
  assert.equal(list[0].requireTls, true);
  assert.deepEqual(list[0].senderIPAddresses, ['192.0.2.0/24', '2001:db8::/32']);

  const table = await mx(d, ['connector', 'list']);
  ok(table, 'list table');
  assert.match(table.stdout, /^PartnerNet\s+partner\s+yes\s/m);

  // test: IP match (IPv4-mapped form too), certificate match, and none.
  const byIp = json<TestResult>(await mx(d, ['connector', 'test', '--ip', '::ffff:10.1.2.3', '--json']));
  assert.deepEqual([byIp.result, byIp.connector, byIp.by], ['matched', 'Printers', 'ip']);
  assert.ok(byIp.reasons.length > 0);
  const byCert = json<TestResult>(await mx(d, ['connector', 'test', '--ip', '198.51.100.1', '--cert-name', 'mx.partner.example', '--sender', 'billing@partner.example', '--json']));
  assert.deepEqual([byCert.result, byCert.connector, byCert.by], ['matched', 'PartnerCert', 'certificate']);
  const wildcardTooDeep = json<TestResult>(await mx(d, ['connector', 'test', '--ip', '198.51.100.1', '--cert-name', 'a.mx.partner.example', '--sender', 'partner.example', '--json']));
  assert.equal(wildcardTooDeep.result, 'none');
  const none = json<TestResult>(await mx(d, ['connector', 'test', '--ip', '198.51.100.1', '--json']));
  assert.deepEqual([none.result, none.connector, none.by], ['none', null, null]);
  // requireTls: refused in plaintext, matched when the session would be encrypted.
  const plaintext = json<TestResult>(await mx(d, ['connector', 'test', '--ip', '192.0.2.7', '--json']));
  assert.deepEqual([plaintext.result, plaintext.connector], ['requireTls', 'PartnerNet']);
  const overTls = json<TestResult>(await mx(d, ['connector', 'test', '--ip', '192.0.2.7', '--tls', '--json']));
  assert.deepEqual([overTls.result, overTls.connector, overTls.by], ['matched', 'PartnerNet', 'ip']);

  const text = await mx(d, ['connector', 'test', '--ip', '10.1.2.3']);
  ok(text, 'test text');
  assert.match(text.stdout, /Printers/);
  const textNone = await mx(d, ['connector', 'test', '--ip', '203.0.113.1']);
  ok(textNone, 'test text none');
  assert.match(textNone.stdout, /no connector/);
  oneLineError(await mx(d, ['connector', 'test']), 2, /--ip/);

  // Refusals: bad CIDR (names the field), missing --type, unknown connector, duplicate name.
  oneLineError(await mx(d, ['connector', 'add', 'Bad', '--type', 'partner', '--ip', '10.0.0.0/33']), 2, /senderIPAddresses\[0\]/);
  oneLineError(await mx(d, ['connector', 'add', 'NoType', '--ip', '10.0.0.1']), 2, /--type/);
  oneLineError(await mx(d, ['connector', 'add', 'Bad2', '--type', 'friend']), 2, /type/);
  oneLineError(await mx(d, ['connector', 'set', 'Nobody', '--enabled', 'false']), 2, /no connector/);
  oneLineError(await mx(d, ['connector', 'set', 'PartnerNet', '--enabled', 'maybe']), 2, /--enabled/);
  oneLineError(await mx(d, ['connector', 'add', 'printers', '--type', 'partner']), 2, /already exists/);

  ok(await mx(d, ['connector', 'remove', 'PartnerNet']), 'remove');
  list = json<Conn[]>(await mx(d, ['connector', 'list', '--json']));
  assert.deepEqual(list.map((c) => c.name), ['PartnerCert', 'Printers']);
  oneLineError(await mx(d, ['connector', 'remove', 'PartnerNet']), 2, /no connector/);

  const audit = await auditOf(d);
  assert.deepEqual(audit.map((a) => a.action), ['connector.add', 'connector.add', 'connector.add', 'connector.set', 'connector.remove']);
  const set = audit[3] as { old: { connectors: Conn[] }; new: { connectors: Conn[] } };
  assert.equal(set.old.connectors[0].requireTls, false);
  assert.equal(set.new.connectors[0].requireTls, true);
});

// ---- policy export / import ------------------------------------------------------------------

test('policy export then import into another install gives the same policy', async () => {
  const a = freshDataDir();
  ok(await mx(a, ['domain', 'add', 'contoso.com', '--recipient', 'alice@contoso.com']), 'domain');
  ok(await mx(a, ['domain', 'add', 'fabrikam.com', '--include-subdomains']), 'domain 2');
  ok(await mx(a, ['connector', 'add', 'Locked', '--type', 'partner', '--sender-domain', 'partner.example', '--ip', '203.0.113.0/24', '--restrict-to-ips', 'true']), 'connector');
  ok(await mx(a, ['org', 'set', '--reject-direct-send', 'report', '--reject-direct-send-header-from', 'off']), 'org');

  const exported = await mx(a, ['policy', 'export']);
  ok(exported, 'export');
  assert.match(exported.stdout, /rejectDirectSend: report/);
  const file = join(root, 'exported.yaml');
  writeFileSync(file, exported.stdout);

  const b = freshDataDir();
  ok(await mx(b, ['policy', 'import', file]), 'import');
  for (const cmd of [['domain', 'list', '--json'], ['connector', 'list', '--json']]) {
    assert.deepEqual(json(await mx(b, cmd)), json(await mx(a, cmd)), cmd.join(' '));
  }
  const org = json<{ rejectDirectSend: string; rejectDirectSendHeaderFrom: string }>(await mx(b, ['org', 'get', '--json']));
  assert.deepEqual([org.rejectDirectSend, org.rejectDirectSendHeaderFrom], ['report', 'off']);

  // The same through --output and stdin.
  const outFile = join(root, 'exported-2.yaml');
  ok(await mx(b, ['policy', 'export', '--output', outFile]), 'export --output');
  const c = freshDataDir();
  ok(await mx(c, ['policy', 'import', '-'], { input: readFileSync(outFile, 'utf8') }), 'import stdin');
  assert.deepEqual(json(await mx(c, ['connector', 'list', '--json'])), json(await mx(a, ['connector', 'list', '--json'])));

  const audit = await auditOf(b);
  assert.deepEqual(audit.map((x) => [x.action, x.actor]), [['policy.import', 'tester']]);
});

test('policy import of a broken file: exit 2, one line naming line and field, nothing written', async () => {
  const d = freshDataDir();
  ok(await mx(d, ['domain', 'add', 'contoso.com']), 'domain');
  const version = await policyVersion(d);

  const badField = join(root, 'bad-field.yaml');
  writeFileSync(badField, [
    'rejectDirectSend: enforce',   // 1
    'acceptedDomains:',            // 2
    '  - domain: contoso.com',     // 3
    'connectors:',                 // 4
    '  - name: Printers',          // 5
    '    type: onPremises',        // 6
    '    senderIPAddresses:',      // 7
    '      - 10.0.0.0/8',          // 8
    '      - 300.1.1.1',           // 9
    '',
  ].join('\n'));
  const line = oneLineError(await mx(d, ['policy', 'import', badField]), 2);
  assert.ok(line.includes('bad-field.yaml'), line);
  assert.match(line, /line 9: connectors\[0\]\.senderIPAddresses\[1\]/);

  const badSyntax = join(root, 'bad-syntax.yaml');
  writeFileSync(badSyntax, 'rejectDirectSend: enforce\nacceptedDomains: [ {domain: contoso.com}\nconnectors: []\n');
  const syntax = oneLineError(await mx(d, ['policy', 'import', badSyntax]), 2);
  assert.match(syntax, /bad-syntax\.yaml: line \d+: /);

  const unknownKey = join(root, 'unknown-key.yaml');
  writeFileSync(unknownKey, 'rejectDirectSend: enforce\nrejectDirectSendd: off\n');
  oneLineError(await mx(d, ['policy', 'import', unknownKey]), 2, /line 2: rejectDirectSendd/);

  oneLineError(await mx(d, ['policy', 'import', join(root, 'missing.yaml')]), 2, /missing\.yaml/);
  oneLineError(await mx(d, ['policy', 'import']), 2, /FILE/);

  // --dry-run validates without writing.
  const good = join(root, 'good.yaml');
  writeFileSync(good, 'acceptedDomains:\n  - domain: fabrikam.com\n');
  ok(await mx(d, ['policy', 'import', good, '--dry-run']), 'dry run');

  assert.equal(await policyVersion(d), version, 'a refused or dry-run import must not change the policy');
  assert.deepEqual((await auditOf(d)).map((a) => a.action), ['domain.add']);
});

// ---- user ------------------------------------------------------------------------------------

test('user add with --password-stdin, list, remove; the hash is never printed', async () => {
  const d = freshDataDir();
  const password = 'correct horse battery staple';
  const add = await mx(d, ['user', 'add', 'alice', '--address', 'alice@contoso.com', '--address', 'Sales@Contoso.COM', '--password-stdin'], { input: `${password}\n` });
  ok(add, 'user add');
  const list = await mx(d, ['user', 'list', '--json']);
  const users = json<Array<Record<string, unknown>>>(list);
  assert.deepEqual(users, [{ username: 'alice', addresses: ['alice@contoso.com', 'Sales@contoso.com'] }]);
  const table = await mx(d, ['user', 'list']);
  ok(table, 'user list');
  assert.match(table.stdout, /^alice\s+alice@contoso\.com/m);

  const store = new SqliteStore(join(d, 'mxward.db'));
  const stored = await store.getUser('alice');
  await store.close();
  assert.ok(stored && stored.passwordHash.length > 20);
  assert.ok(!stored.passwordHash.includes(password), 'stored as a hash');
  for (const r of [add, list, table]) {
    const out = r.stdout + r.stderr;
    assert.ok(!out.includes(stored.passwordHash), 'hash printed');
    assert.ok(!out.includes(password), 'password printed');
    assert.doesNotMatch(out, /scrypt|passwordHash/i);
  }

  oneLineError(await mx(d, ['user', 'add', 'bob', '--address', 'bob@contoso.com', '--password-stdin'], { input: 'short\n' }), 2, /8 characters/);
  oneLineError(await mx(d, ['user', 'add', 'bob', '--password-stdin'], { input: `${password}\n` }), 2, /--address/);
  oneLineError(await mx(d, ['user', 'add', 'bob', '--address', 'not-an-address', '--password-stdin'], { input: `${password}\n` }), 2, /not an email address/);
  oneLineError(await mx(d, ['user', 'add', 'bob', '--address', 'bob@contoso.com', '--password-stdin'], { input: '' }), 2, /password/);

  ok(await mx(d, ['user', 'remove', 'alice']), 'remove');
  assert.deepEqual(json(await mx(d, ['user', 'list', '--json'])), []);
  oneLineError(await mx(d, ['user', 'remove', 'alice']), 2, /no user/);

  const audit = await auditOf(d);
  assert.deepEqual(audit.map((a) => a.action), ['user.add', 'user.remove']);
  for (const a of audit) assert.ok(!JSON.stringify(a).includes(stored.passwordHash), 'hash in the audit log');
});

// ---- trace -----------------------------------------------------------------------------------

function traceRecord(over: Partial<TraceRecord>): TraceRecord {
  return {
    time: new Date().toISOString(), sessionId: 'sess', transactionId: `tx-${Math.random().toString(36).slice(2)}`,
    remoteIp: '198.51.100.9', helo: 'spoofer.example', ptr: null, tlsVersion: null, tlsCipher: null, tlsClientCertificate: null,
    authUser: null, connector: null, attribution: 'anonymous', mailFrom: 'ceo@contoso.com', recipients: [],
    rejectedRecipients: ['user@contoso.com'], headerFrom: [], messageId: null, subject: null, sizeBytes: null,
    directSend: 'p1', directSendWouldReject: true, auth: null, verdict: 'reject',
    reply: '550 5.7.68 TenantInboundAttribution; Direct Send not allowed for this organization from unauthorized sources',
    stage: 'rcpt', hits: [{ rule: 'rejectDirectSend', detail: 'test' }], queueId: null, quarantineId: null,
    deliveryStatus: 'not-queued', durationMs: 12,
    ...over,
  };
}

test('trace --json returns whole records (SPEC §7) and the filters select them', async () => {
  const d = freshDataDir();
  ok(await mx(d, ['org', 'get']), 'create the store');
  const store = new SqliteStore(join(d, 'mxward.db'));
  const old = new Date(Date.now() - 3 * 86_400_000).toISOString();
  await store.appendTrace(traceRecord({ transactionId: 'tx-old', time: old, remoteIp: '203.0.113.5' }));
  await store.appendTrace(traceRecord({ transactionId: 'tx-spoof' }));
  await store.appendTrace(traceRecord({
    transactionId: 'tx-partner', remoteIp: '192.0.2.10', connector: 'PartnerNet', attribution: 'partner', mailFrom: 'billing@partner.example',
    recipients: ['user@contoso.com'], rejectedRecipients: [], directSend: null, directSendWouldReject: false, verdict: 'accept',
    reply: '250 2.6.0 <Q1> Queued mail for delivery', stage: 'data', queueId: 'Q1', deliveryStatus: 'queued', headerFrom: ['billing@partner.example'],
  }));
  await store.close();

  const all = json<TraceRecord[]>(await mx(d, ['trace', '--json']));
  assert.deepEqual(all.map((r) => r.transactionId), ['tx-partner', 'tx-spoof', 'tx-old'], 'newest first');
  const spoof = all[1];
  for (const key of ['time', 'sessionId', 'remoteIp', 'helo', 'authUser', 'connector', 'attribution', 'mailFrom', 'recipients',
    'headerFrom', 'messageId', 'subject', 'sizeBytes', 'directSend', 'auth', 'verdict', 'reply', 'stage', 'quarantineId', 'deliveryStatus', 'durationMs']) {
    assert.ok(key in spoof, `trace record lacks ${key}`);
  }
  assert.equal(spoof.reply.slice(0, 10), '550 5.7.68');
  assert.equal(spoof.directSend, 'p1');
  assert.deepEqual(spoof.rejectedRecipients, ['user@contoso.com']);

  const ids = async (...args: string[]) => json<TraceRecord[]>(await mx(d, ['trace', '--json', ...args])).map((r) => r.transactionId);
  assert.deepEqual(await ids('--direct-send'), ['tx-spoof', 'tx-old']);
  assert.deepEqual(await ids('--verdict', 'accept'), ['tx-partner']);
  assert.deepEqual(await ids('--ip', '192.0.2.10'), ['tx-partner']);
  assert.deepEqual(await ids('--sender', 'PARTNER.example'), ['tx-partner']);
  assert.deepEqual(await ids('--recipient', 'user@contoso.com'), ['tx-partner', 'tx-spoof', 'tx-old']);
  assert.deepEqual(await ids('--since', '1d'), ['tx-partner', 'tx-spoof']);
  assert.deepEqual(await ids('--limit', '1'), ['tx-partner']);

  const table = await mx(d, ['trace', '--direct-send']);
  ok(table, 'trace table');
  assert.match(table.stdout, /198\.51\.100\.9/);
  assert.match(table.stdout, /5\.7\.68/);

  oneLineError(await mx(d, ['trace', '--verdict', 'maybe']), 2, /--verdict/);
  oneLineError(await mx(d, ['trace', '--since', 'yesterday']), 2, /--since/);
  oneLineError(await mx(d, ['trace', '--limit', '0']), 2, /--limit/);
});

// ---- usage errors and help -------------------------------------------------------------------

test('unknown command and unknown flag: exit 2, one line', async () => {
  const d = freshDataDir();
  oneLineError(await mx(d, ['frobnicate']), 2, /unknown command/);
  const flag = oneLineError(await mx(d, ['domain', 'list', '--frobnicate']), 2, /--frobnicate/);
  assert.ok(flag.length < 160, `long message: ${flag}`);
  oneLineError(await mx(d, ['connector', 'list', '--ip']), 2, /--ip/);
  oneLineError(await mx(d, ['trace', 'extra']), 2, /extra/);
});

test('mxward --help and every command --help exit 0 with a usage text', async () => {
  const top = await runCli(['--help']);
  ok(top, 'mxward --help');
  const section = top.stdout.split('Commands:')[1] ?? '';
  const names = [...section.matchAll(/^ {2}([a-z][a-z-]*)\s{2,}/gm)].map((m) => m[1]);
  for (const required of ['serve', 'org', 'domain', 'connector', 'policy', 'user', 'trace']) {
    assert.ok(names.includes(required), `mxward --help does not list ${required}`);
  }
  // One at a time: each is a whole Node start, and a burst of them on two busy cores once took
  // longer than the per-process limit.
  const results: Array<readonly [string, Result]> = [];
  for (const name of names) results.push([name, await runCli([name, '--help'])] as const);
  for (const [name, r] of results) {
    ok(r, `${name} --help`);
    assert.match(r.stdout, /Usage: mxward/, `${name} --help prints no usage`);
    assert.equal(r.stderr, '', `${name} --help wrote to stderr`);
  }
  for (const args of [['domain', 'add', '--help'], ['connector', 'test', '--help'], ['policy', 'import', '--help'], ['user', 'add', '--help'], ['org', 'set', '--help']]) {
    const r = await runCli(args);
    ok(r, args.join(' '));
    assert.match(r.stdout, /Usage: mxward/);
  }
});
