// `mxward milter` over a real socket, driven the way Postfix drives it: negotiation, macros,
// connect, helo, envfrom, envrcpt, headers, body, end of message; connection reuse (QUIT_NC),
// abort, malformed and oversized packets (the connection closes, the service keeps serving).
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
import { SMFIC, SMFIP } from '../../src/integrations/milter/constants.ts';
import { encodeFrame, MilterFrameDecoder } from '../../src/integrations/milter/codec.ts';
import type { MilterFrame } from '../../src/integrations/milter/codec.ts';
import { startMilterService } from '../../src/integrations/runtime.ts';
import type { RunningIntegration } from '../../src/integrations/runtime.ts';
import { changePolicy } from '../../src/store/policy-changes.ts';
import { waitFor } from '../helpers/loopback.ts';

let dataDir = '';
let service: RunningIntegration;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'mxward-milter-'));
  const config = bootstrapSchema.parse({ hostname: 'mx.test.example', policyPollMs: 50, logLevel: 'silent', auth: { enabled: false }, limits: { maxMessageBytes: 64 * 1024 } });
  service = await startMilterService({ config, dataDir, logger: pino({ level: 'silent' }), listen: { host: '127.0.0.1', port: 0 } });
  const saved = await changePolicy(service.store, 'test', 'test.policy', (doc: PolicyDocument) => ({
    ...doc, rejectDirectSend: 'enforce', rejectDirectSendHeaderFrom: 'report', acceptedDomains: [{ domain: 'example.test', includeSubdomains: false, recipients: [] }],
  }));
  await service.livePolicy.waitForVersion(saved.version);
});

after(async () => {
  await service?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const z = (...s: string[]) => Buffer.from(s.map((x) => `${x}\0`).join(''), 'latin1');

/** An MTA side of the protocol: sends commands, reads replies as frames. */
class MilterClient {
  readonly socket: Socket;
  readonly #decoder = new MilterFrameDecoder();
  #frames: MilterFrame[] = [];
  closed = false;
  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => { const r = this.#decoder.push(d); if (r.ok) this.#frames.push(...r.frames); });
    socket.on('close', () => { this.closed = true; });
    socket.on('error', () => { this.closed = true; });
  }
  static open(): Promise<MilterClient> {
    const { port } = service.address as { port: number };
    return new Promise((res, rej) => { const s = connect(port, '127.0.0.1', () => res(new MilterClient(s))); s.once('error', rej); });
  }
  send(command: string, payload: Buffer = Buffer.alloc(0)): void { this.socket.write(encodeFrame(command, payload)); }
  async next(timeoutMs = 5000): Promise<MilterFrame> {
    const deadline = Date.now() + timeoutMs;
    while (this.#frames.length === 0) {
      if (this.closed || Date.now() > deadline) throw new Error('no reply');
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.#frames.shift()!;
  }
  async untilClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) { if (Date.now() > deadline) throw new Error('still open'); await new Promise((r) => setTimeout(r, 5)); }
  }
  async negotiate(): Promise<MilterFrame> {
    const offer = Buffer.alloc(12);
    offer.writeUInt32BE(6, 0); offer.writeUInt32BE(0x1ff, 4); offer.writeUInt32BE(0x1fffff, 8);
    this.send(SMFIC.OPTNEG, offer);
    return this.next();
  }
  async connectAndHelo(ip = '198.51.100.7'): Promise<void> {
    const port = Buffer.alloc(2); port.writeUInt16BE(40000, 0);
    this.send(SMFIC.MACRO, Buffer.concat([Buffer.from('C'), z('{client_addr}', ip)]));
    this.send(SMFIC.CONNECT, Buffer.concat([z('client.test'), Buffer.from('4'), port, z(ip)]));
    assert.equal((await this.next()).command, 'c');
    this.send(SMFIC.HELO, z('client.test'));
    assert.equal((await this.next()).command, 'c');
  }
  async envelope(from: string, to: string): Promise<MilterFrame> {
    this.send(SMFIC.MAIL, z(`<${from}>`));
    const mail = await this.next();
    if (mail.command !== 'c') return mail;
    this.send(SMFIC.RCPT, z(`<${to}>`));
    return this.next();
  }
  /** Headers (no reply each: NR_HDR), EOH, body, end of message; returns every reply to EOM. */
  async message(headers: Array<[string, string]>, body: string): Promise<MilterFrame[]> {
    for (const [name, value] of headers) this.send(SMFIC.HEADER, z(name, value));
    this.send(SMFIC.EOH);
    assert.equal((await this.next()).command, 'c');
    this.send(SMFIC.BODY, Buffer.from(body));
    assert.equal((await this.next()).command, 'c');
    this.send(SMFIC.MACRO, Buffer.concat([Buffer.from('E'), z('i', '4ABCDE')]));
    this.send(SMFIC.BODYEOB);
    const replies: MilterFrame[] = [];
    for (;;) { const f = await this.next(); replies.push(f); if ('artyd'.includes(f.command)) return replies; }
  }
  close(): void { this.socket.destroy(); }
}

const text = (f: MilterFrame) => f.payload.toString('latin1');

test('negotiation: header edits, body replacement and quarantine asked for, leading spaces kept, macros requested', async () => {
  const c = await MilterClient.open();
  try {
    const reply = await c.negotiate();
    assert.equal(reply.command, 'O');
    assert.equal(reply.payload.readUInt32BE(0), 6);
    assert.equal(reply.payload.readUInt32BE(4), 0x01 | 0x02 | 0x10 | 0x20, 'add and change headers, replace the body (banner), quarantine');
    const protocol = reply.payload.readUInt32BE(8);
    assert.ok(protocol & SMFIP.HDR_LEADSPC && protocol & SMFIP.NR_HDR && protocol & SMFIP.NODATA);
    assert.match(text(reply), /\{client_addr\}/);
  } finally { c.close(); }
});

test('Direct Send at RCPT is refused with the catalogue reply; QUIT_NC reuses the connection for a new session', async () => {
  const c = await MilterClient.open();
  try {
    await c.negotiate();
    await c.connectAndHelo();
    const refused = await c.envelope('ceo@example.test', 'alice@example.test');
    assert.equal(refused.command, 'y');
    assert.match(text(refused), /^550 5\.7\.68 TenantInboundAttribution; Direct Send not allowed/);
    c.send(SMFIC.ABORT);
    c.send(SMFIC.QUIT_NC);
    await c.connectAndHelo('198.51.100.8');
    assert.equal((await c.envelope('news@foreign.test', 'alice@example.test')).command, 'c');
  } finally { c.close(); }
  await waitFor('the refusal in the trace', async () => {
    const rows = await service.store.queryTrace({ sender: 'ceo@example.test' });
    return rows.some((r) => r.source === 'postfix-milter' && r.verdict === 'reject' && r.stage === 'rcpt');
  });
});

test('end of message: forged fields deleted by canonical name (last first), stamps inserted at the top, accept', async () => {
  const c = await MilterClient.open();
  try {
    await c.negotiate();
    await c.connectAndHelo();
    assert.equal((await c.envelope('news@foreign.test', 'alice@example.test')).command, 'c');
    const replies = await c.message([
      ['From', ' CEO <ceo@example.test>'], ['X-Mxward-AuthAs', ' Internal'], ['Subject', ' hello'],
      ['x-mxward-verdict', ' accept'], ['X-Mxward-AuthAs', ' Partner'], ['Authentication-Results', ' (c) "MX.TEST.EXAMPLE."; dmarc=pass'],
      ['Authentication-Results', ' other.example; dmarc=pass'],
    ], 'body\r\n');
    const deletions = replies.filter((f) => f.command === 'm').map((f) => [f.payload.readUInt32BE(0), text(f).slice(4)]);
    assert.deepEqual(deletions, [
      [1, 'Authentication-Results\0\0'], [2, 'X-Mxward-AuthAs\0\0'], [1, 'x-mxward-verdict\0\0'], [1, 'X-Mxward-AuthAs\0\0'],
    ]);
    const inserted = replies.filter((f) => f.command === 'i').map((f) => [f.payload.readUInt32BE(0), text(f).slice(4)]);
    assert.deepEqual(inserted.map(([i]) => i), inserted.map((_, i) => i), 'in order from the top');
    const names = inserted.map(([, t]) => String(t).split('\0')[0]);
    assert.deepEqual(names, ['X-Mxward-AuthAs', 'X-Mxward-DirectSend', 'X-Mxward-Verdict']);
    assert.equal(String(inserted[1][1]), 'X-Mxward-DirectSend\0 header-from;would-reject\0');
    assert.equal(replies.at(-1)!.command, 'a');
  } finally { c.close(); }
});

const refusals: Array<[string, Array<[string, string]>, RegExp]> = [
  ['two From fields', [['From', ' a@foreign.test'], ['From', ' ceo@example.test']], /^550 5\.6\.0 /],
  ['no From field', [['Subject', ' x']], /^550 5\.6\.0 /],
  ['a value whose next line is neither a field nor a continuation', [['From', ' a@foreign.test\n\x01bad']], /^550 5\.6\.0 /],
];

for (const [name, headers, expected] of refusals) {
  test(`end of message refused like the gateway: ${name}`, async () => {
    const c = await MilterClient.open();
    try {
      await c.negotiate();
      await c.connectAndHelo();
      await c.envelope('news@foreign.test', 'alice@example.test');
      const replies = await c.message(headers, 'body\r\n');
      assert.equal(replies.length, 1);
      assert.equal(replies[0].command, 'y');
      assert.match(text(replies[0]), expected);
    } finally { c.close(); }
  });
}

test('a message over maxMessageBytes is refused 552 without being kept', async () => {
  const c = await MilterClient.open();
  try {
    await c.negotiate();
    await c.connectAndHelo();
    await c.envelope('news@foreign.test', 'alice@example.test');
    c.send(SMFIC.HEADER, z('From', ' a@foreign.test'));
    c.send(SMFIC.EOH);
    await c.next();
    c.send(SMFIC.BODY, Buffer.alloc(65_000, 0x61));
    assert.equal((await c.next()).command, 'c');
    c.send(SMFIC.BODY, Buffer.alloc(65_000, 0x61));
    const over = await c.next();
    assert.equal(over.command, 'y');
    assert.match(text(over), /^552 5\.3\.4 /);
  } finally { c.close(); }
});

const broken: Array<[string, Buffer]> = [
  ['a zero-length packet', Buffer.from([0, 0, 0, 0])],
  ['a 4 GiB length', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x4f])],
  ['a command before negotiation', encodeFrame(SMFIC.HELO, z('x'))],
  ['an unknown command', Buffer.concat([encodeFrame(SMFIC.OPTNEG, Buffer.from([0, 0, 0, 6, 0, 0, 0, 0x3f, 0, 0, 0, 0])), encodeFrame('Z', z('?'))])],
  ['a connect packet without its address', Buffer.concat([encodeFrame(SMFIC.OPTNEG, Buffer.from([0, 0, 0, 6, 0, 0, 0, 0x3f, 0, 0, 0, 0])), encodeFrame(SMFIC.CONNECT, Buffer.from('host\x004'))])],
];

for (const [name, bytes] of broken) {
  test(`malformed: ${name} closes that connection; the service keeps serving`, async () => {
    const c = await MilterClient.open();
    c.socket.write(bytes);
    await c.untilClosed();
    const fresh = await MilterClient.open();
    try { assert.equal((await fresh.negotiate()).command, 'O'); } finally { fresh.close(); }
  });
}
