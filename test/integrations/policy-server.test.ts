// `mxward policyd` over a real socket, as Postfix uses it: connection reuse, pipelined requests,
// malformed and huge requests (answered, never a crash), the RCPT decisions with connectors by
// IP, certificate name and certificate fingerprint, report-mode stamping once per transaction.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { bootstrapSchema } from '../../src/config/bootstrap.ts';
import type { PolicyDocument } from '../../src/config/policy-schema.ts';
import { startPolicyService } from '../../src/integrations/runtime.ts';
import type { RunningIntegration } from '../../src/integrations/runtime.ts';
import { changePolicy } from '../../src/store/policy-changes.ts';
import { waitFor } from '../helpers/loopback.ts';

let dataDir = '';
let service: RunningIntegration;
const FP_A = 'AB:'.repeat(31) + 'AB';
const FP_B = 'CD:'.repeat(31) + 'CD';

async function setPolicy(mutate: (doc: PolicyDocument) => PolicyDocument): Promise<void> {
  const saved = await changePolicy(service.store, 'test', 'test.policy', mutate);
  await service.livePolicy.waitForVersion(saved.version);
}

const connector = (name: string, extra: Record<string, unknown>) => ({
  name, type: 'partner', enabled: true, senderDomains: ['example.test'], senderIPAddresses: [], tlsSenderCertificateName: null,
  restrictDomainsToIPAddresses: false, restrictDomainsToCertificate: false, requireTls: false, treatMessagesAsInternal: false, comment: '', ...extra,
});

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mxward-policyd-'));
  const config = bootstrapSchema.parse({ hostname: 'mx.test.example', policyPollMs: 50, logLevel: 'silent', auth: { enabled: false } });
  service = await startPolicyService({ config, dataDir, logger: pino({ level: 'silent' }), listen: { host: '127.0.0.1', port: 0 } });
  await setPolicy((doc) => ({
    ...doc, rejectDirectSend: 'enforce', acceptedDomains: [{ domain: 'example.test', includeSubdomains: false, recipients: [] }],
    connectors: [
      connector('by-ip', { senderIPAddresses: ['192.0.2.10/32'] }),
      connector('by-name', { tlsSenderCertificateName: 'relay.partner.test' }),
      connector('by-pin', { certificateFingerprints: [FP_A] }),
    ],
  } as PolicyDocument));
});

after(async () => {
  await service?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** A Postfix-like client: writes requests, reads `action=…\n\n` answers in order. */
class PolicyClient {
  readonly socket: Socket;
  #buffer = '';
  #closed = false;
  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => { this.#buffer += d; });
    socket.on('close', () => { this.#closed = true; });
    socket.on('error', () => { this.#closed = true; });
  }
  static open(): Promise<PolicyClient> {
    const { port } = service.address as { port: number };
    return new Promise((res, rej) => { const s = connect(port, '127.0.0.1', () => res(new PolicyClient(s))); s.once('error', rej); });
  }
  async answers(n: number, timeoutMs = 5000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while ((this.#buffer.match(/\n\n/g) ?? []).length < n) {
      if (this.#closed || Date.now() > deadline) throw new Error(`got ${JSON.stringify(this.#buffer)} before ${n} answers`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const parts = this.#buffer.split('\n\n');
    this.#buffer = parts.slice(n).join('\n\n');
    return parts.slice(0, n).map((p) => p.replace(/^action=/, ''));
  }
  close(): void { this.socket.destroy(); }
}

function req(attrs: Record<string, string>): string {
  const all = { request: 'smtpd_access_policy', protocol_state: 'RCPT', client_address: '198.51.100.7', helo_name: 'client.test', recipient: 'alice@example.test', instance: `i-${Math.random()}`, ...attrs };
  return `${Object.entries(all).map(([k, v]) => `${k}=${v}`).join('\n')}\n\n`;
}

const SPOOF = { sender: 'ceo@example.test' };
const DIRECT_SEND = /^550 5\.7\.68 TenantInboundAttribution; Direct Send not allowed/;

test('pipelined requests on one connection are answered in order, and the connection is reused', async () => {
  const c = await PolicyClient.open();
  try {
    c.socket.write(req(SPOOF) + req({ sender: 'news@foreign.test' }) + req({ sender: 'news@foreign.test', recipient: 'x@elsewhere.test' }));
    const [a, b, d] = await c.answers(3);
    assert.match(a, DIRECT_SEND);
    assert.equal(b, 'DUNNO');
    assert.match(d, /^550 5\.7\.64 TenantAttribution; Relay Access Denied/);
    c.socket.write(req(SPOOF));
    assert.match((await c.answers(1))[0], DIRECT_SEND, 'the same connection serves the next request');
  } finally { c.close(); }
});

const bad: Array<[string, string]> = [
  ['a huge attribute value', req({ sender: 'a'.repeat(1_000_000) })],
  ['a line without =', 'request=smtpd_access_policy\nthis is not an attribute\n\n'],
  ['binary garbage', `\x00\xff\xfe=\x01\n${'\x07'.repeat(100)}\n\n`],
  ['another request type', 'request=something_else\n\n'],
];

for (const [name, input] of bad) {
  test(`malformed: ${name} gets 451 4.3.0, and the service keeps serving`, async () => {
    const c = await PolicyClient.open();
    try {
      c.socket.write(input + req(SPOOF));
      const [first, next] = await c.answers(2);
      assert.match(first, /^451 4\.3\.0 /);
      assert.match(next, DIRECT_SEND);
    } finally { c.close(); }
    const fresh = await PolicyClient.open();
    try { fresh.socket.write(req(SPOOF)); assert.match((await fresh.answers(1))[0], DIRECT_SEND); } finally { fresh.close(); }
  });
}

test('unknown attributes are ignored; a check outside MAIL and RCPT is left to the milter (DUNNO)', async () => {
  const c = await PolicyClient.open();
  try {
    c.socket.write(req({ ...SPOOF, some_future_attribute: 'x', policy_context: 'y' }) + req({ ...SPOOF, protocol_state: 'DATA' }));
    const [a, b] = await c.answers(2);
    assert.match(a, DIRECT_SEND);
    assert.equal(b, 'DUNNO');
  } finally { c.close(); }
});

test('connectors: by IP, by verified certificate name, by pinned fingerprint; an unpinned or untrusted certificate is not enough', async () => {
  const tls = { encryption_protocol: 'TLSv1.3', encryption_cipher: 'TLS_AES_256_GCM_SHA384' };
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['connector IP', { ...SPOOF, client_address: '192.0.2.10' }, /^DUNNO$/],
    ['verified name', { ...SPOOF, ...tls, ccert_subject: 'relay.partner.test', ccert_fingerprint: FP_B }, /^DUNNO$/],
    ['pinned fingerprint, verified', { ...SPOOF, ...tls, ccert_subject: 'other.test', ccert_fingerprint: FP_A.replace(/:/g, '').toLowerCase() }, /^DUNNO$/],
    ['another fingerprint', { ...SPOOF, ...tls, ccert_subject: 'other.test', ccert_fingerprint: FP_B }, DIRECT_SEND],
    ['pinned but not trusted by Postfix (no subject)', { ...SPOOF, ...tls, ccert_subject: '', ccert_fingerprint: FP_A }, DIRECT_SEND],
    ['name without TLS facts', { ...SPOOF, ccert_subject: 'relay.partner.test' }, DIRECT_SEND],
  ];
  const c = await PolicyClient.open();
  try {
    for (const [name, attrs, expected] of cases) {
      c.socket.write(req(attrs));
      assert.match((await c.answers(1))[0], expected, name);
    }
  } finally { c.close(); }
});

test('report mode: PREPEND once per transaction, and the trace records it with its source; enforce refusals are traced', async () => {
  await setPolicy((doc) => ({ ...doc, rejectDirectSend: 'report' }));
  const c = await PolicyClient.open();
  try {
    c.socket.write(req({ ...SPOOF, instance: 'tx-1' }) + req({ ...SPOOF, instance: 'tx-1', recipient: 'bob@example.test' }));
    const [first, second] = await c.answers(2);
    assert.equal(first, 'PREPEND X-Mxward-DirectSend: p1;would-reject');
    assert.equal(second, 'DUNNO', 'one stamp per message, not one per recipient');
  } finally {
    c.close();
    await setPolicy((doc) => ({ ...doc, rejectDirectSend: 'enforce' }));
  }
  // Trace records are written in the background (the answer does not wait for them).
  const rows = await waitFor('trace records', async () => {
    const all = await service.store.queryTrace({ sender: 'ceo@example.test', limit: 500 });
    return all.filter((r) => r.sessionId === 'postfix-tx-1').length === 2 && all;
  });
  const reported = rows.filter((r) => r.sessionId === 'postfix-tx-1');
  assert.ok(reported.every((r) => r.source === 'postfix-policyd' && r.verdict === 'accept' && r.directSendWouldReject));
  const refused = rows.find((r) => r.verdict === 'reject' && r.remoteIp === '198.51.100.7');
  assert.ok(refused);
  assert.equal(refused.reply.slice(0, 10), '550 5.7.68');
  assert.deepEqual(refused.hits[0], { rule: 'source', detail: 'postfix-policyd' });
});
