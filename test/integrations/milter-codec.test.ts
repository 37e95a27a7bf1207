// The milter codec on its own: packet framing (split, joined, oversized, empty), the decoders of
// each MTA command, and the encoders of each reply, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMFIC, SMFIF, SMFIP, SMFIR } from '../../src/integrations/milter/constants.ts';
import {
  decodeConnect, decodeHeader, decodeMacros, decodeOptneg, encodeChangeHeader, encodeFrame, encodeInsertHeader,
  encodeOptnegReply, encodeQuarantine, encodeReplyCode, MilterFrameDecoder, readStrings,
} from '../../src/integrations/milter/codec.ts';

const frame = (command: string, payload: string | Buffer = '') => encodeFrame(command, typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload);

test('frames: length counts the command byte; one packet split anywhere decodes the same', () => {
  const bytes = frame(SMFIC.HELO, 'mx.example\0');
  assert.equal(bytes.readUInt32BE(0), 1 + 11);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const d = new MilterFrameDecoder();
    const a = d.push(bytes.subarray(0, cut));
    const b = d.push(bytes.subarray(cut));
    assert.ok(a.ok && b.ok);
    const frames = [...a.frames, ...b.frames];
    assert.equal(frames.length, 1, `cut at ${cut}`);
    assert.equal(frames[0].command, 'H');
    assert.deepEqual(readStrings(frames[0].payload), ['mx.example']);
  }
});

test('frames: several packets in one chunk (pipelined) come out in order', () => {
  const d = new MilterFrameDecoder();
  const r = d.push(Buffer.concat([frame(SMFIC.MACRO, 'C{client_addr}\x00192.0.2.1\x00'), frame(SMFIC.ABORT), frame(SMFIC.QUIT)]));
  assert.ok(r.ok);
  assert.deepEqual(r.frames.map((f) => f.command), ['D', 'A', 'Q']);
});

test('frames: a zero length or a length over the limit is an error, and stays one (nothing buffered)', () => {
  const zero = new MilterFrameDecoder().push(Buffer.from([0, 0, 0, 0]));
  assert.deepEqual(zero, { ok: false, problem: 'empty milter packet' });
  const d = new MilterFrameDecoder(1024);
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(0xffffffff, 0);
  const r = d.push(huge);
  assert.equal(r.ok, false);
  assert.match((r as { problem: string }).problem, /exceeds the limit of 1024/);
  assert.equal(d.push(frame(SMFIC.QUIT)).ok, false, 'a decoder that failed does not resume mid-stream');
});

test('decoders: option negotiation, macros, connect (inet, inet6, unix), header', () => {
  const opt = Buffer.alloc(12);
  opt.writeUInt32BE(6, 0); opt.writeUInt32BE(0x1ff, 4); opt.writeUInt32BE(0x1fffff, 8);
  assert.deepEqual(decodeOptneg(opt), { version: 6, actions: 0x1ff, protocol: 0x1fffff });
  assert.equal(decodeOptneg(Buffer.alloc(8)), null);

  const m = decodeMacros(Buffer.from('Mi\x00ABC123\x00{auth_authen}\x00alice\x00', 'latin1'))!;
  assert.equal(m.forCommand, 'M');
  assert.equal(m.macros.get('i'), 'ABC123');
  assert.equal(m.macros.get('auth_authen'), 'alice');
  assert.equal(decodeMacros(Buffer.from('Mi\x00', 'latin1')), null, 'a name without a value');
  assert.equal(decodeMacros(Buffer.from('Mi\x00x', 'latin1')), null, 'unterminated');
  assert.equal(decodeMacros(Buffer.from('M', 'latin1'))!.macros.size, 0);

  const port = Buffer.alloc(2); port.writeUInt16BE(40123, 0);
  const inet = Buffer.concat([Buffer.from('client.example\x004', 'latin1'), port, Buffer.from('192.0.2.7\x00')]);
  assert.deepEqual(decodeConnect(inet), { hostname: 'client.example', family: '4', port: 40123, address: '192.0.2.7' });
  const inet6 = Buffer.concat([Buffer.from('unknown\x006', 'latin1'), port, Buffer.from('2001:db8::7\x00')]);
  assert.equal(decodeConnect(inet6)!.address, '2001:db8::7');
  assert.deepEqual(decodeConnect(Buffer.from('local\x00U', 'latin1')), { hostname: 'local', family: 'U', port: 0, address: '' });
  assert.equal(decodeConnect(Buffer.from('host-without-family\x00', 'latin1')), null);
  assert.equal(decodeConnect(Buffer.concat([Buffer.from('h\x004', 'latin1'), port, Buffer.from('192.0.2.7')])), null, 'address not terminated');

  assert.deepEqual(decodeHeader(Buffer.from('Subject\x00 hello\x00', 'latin1')), { name: 'Subject', value: ' hello' });
  assert.equal(decodeHeader(Buffer.from('\x00value\x00', 'latin1')), null, 'empty name');
  assert.equal(decodeHeader(Buffer.from('Subject\x00a\x00b\x00', 'latin1')), null, 'three strings');
  assert.deepEqual(decodeHeader(Buffer.from('X\x00\xe9\xff\x00', 'latin1'))!.value, '\xe9\xff', '8-bit bytes survive');
});

test('encoders: negotiation reply with macro lists, header edits, reply code, quarantine', () => {
  const reply = encodeOptnegReply(SMFIF.ADDHDRS | SMFIF.CHGHDRS, SMFIP.NODATA, [[5, 'i']]);
  assert.equal(reply.readUInt32BE(0), reply.length - 4);
  assert.equal(String.fromCharCode(reply[4]), 'O');
  assert.equal(reply.readUInt32BE(5), 6);
  assert.equal(reply.readUInt32BE(9), 0x11);
  assert.equal(reply.readUInt32BE(13), 0x200);
  assert.equal(reply.readUInt32BE(17), 5);
  assert.equal(reply.subarray(21).toString('latin1'), 'i\0');

  const chg = encodeChangeHeader(2, 'X-Mxward-AuthAs', '');
  assert.equal(String.fromCharCode(chg[4]), SMFIR.CHGHEADER);
  assert.equal(chg.readUInt32BE(5), 2);
  assert.equal(chg.subarray(9).toString('latin1'), 'X-Mxward-AuthAs\0\0');
  const ins = encodeInsertHeader(0, 'X-Mxward-Verdict', ' accept');
  assert.equal(String.fromCharCode(ins[4]), SMFIR.INSHEADER);
  assert.equal(ins.subarray(9).toString('latin1'), 'X-Mxward-Verdict\0 accept\0');

  const code = encodeReplyCode(550, '5.7.68', 'Direct Send 100% refused\r\nX');
  assert.equal(String.fromCharCode(code[4]), SMFIR.REPLYCODE);
  assert.equal(code.subarray(5).toString('latin1'), '550 5.7.68 Direct Send 100%% refused  X\0', 'no line break, % escaped');
  assert.equal(encodeQuarantine('spoof\nof ours').subarray(5).toString('latin1'), 'spoof of ours\0');
});
