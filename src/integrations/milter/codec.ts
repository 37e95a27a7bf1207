// Milter packets to values and back (protocol constants in constants.ts). Pure: no sockets, so
// the codec is tested on its own with byte tables. Strings on the wire are NUL-terminated bytes;
// they are read as latin1 so that every byte survives the round trip unchanged.
import { MILTER_VERSION, SMFIC, SMFIR } from './constants.ts';

export interface MilterFrame {
  command: string;
  payload: Buffer;
}

export type DecodeResult = { ok: true; frames: MilterFrame[] } | { ok: false; problem: string };

/** Postfix sends body chunks of at most 64 KiB and header fields of at most header_size_limit. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/**
 * Splits a byte stream into packets. A length of zero or over the limit is a protocol error:
 * the connection is closed and Postfix applies milter_default_action. Memory stays bounded by
 * the limit because a packet is only buffered after its length has been checked.
 */
export class MilterFrameDecoder {
  readonly #maxFrameBytes: number;
  #pending: Buffer = Buffer.alloc(0);
  #failed: string | null = null;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  push(chunk: Buffer): DecodeResult {
    if (this.#failed) return { ok: false, problem: this.#failed };
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const frames: MilterFrame[] = [];
    while (this.#pending.length >= 4) {
      const length = this.#pending.readUInt32BE(0);
      if (length === 0 || length > this.#maxFrameBytes) {
        this.#failed = length === 0 ? 'empty milter packet' : `milter packet of ${length} bytes exceeds the limit of ${this.#maxFrameBytes}`;
        this.#pending = Buffer.alloc(0);
        return { ok: false, problem: this.#failed };
      }
      if (this.#pending.length < 4 + length) break;
      frames.push({ command: String.fromCharCode(this.#pending[4]), payload: this.#pending.subarray(5, 4 + length) });
      this.#pending = this.#pending.subarray(4 + length);
    }
    if (this.#pending.length === 0) this.#pending = Buffer.alloc(0);
    return { ok: true, frames };
  }
}

/** NUL-terminated strings; a payload that does not end in NUL is malformed (null). */
export function readStrings(payload: Buffer): string[] | null {
  if (payload.length === 0 || payload[payload.length - 1] !== 0) return null;
  return payload.subarray(0, -1).toString('latin1').split('\0');
}

export interface Optneg {
  version: number;
  actions: number;
  protocol: number;
}

export function decodeOptneg(payload: Buffer): Optneg | null {
  if (payload.length < 12) return null;
  return { version: payload.readUInt32BE(0), actions: payload.readUInt32BE(4), protocol: payload.readUInt32BE(8) };
}

/** SMFIC_MACRO: the command the macros belong to, then name/value pairs. */
export function decodeMacros(payload: Buffer): { forCommand: string; macros: Map<string, string> } | null {
  if (payload.length < 1) return null;
  const forCommand = String.fromCharCode(payload[0]);
  const macros = new Map<string, string>();
  if (payload.length === 1) return { forCommand, macros };
  const strings = readStrings(payload.subarray(1));
  if (!strings || strings.length % 2 !== 0) return null;
  for (let i = 0; i < strings.length; i += 2) macros.set(normalizeMacroName(strings[i]), strings[i + 1]);
  return { forCommand, macros };
}

/** `{client_addr}` and `client_addr` name the same macro; single letters stay as they are. */
export function normalizeMacroName(name: string): string {
  return name.startsWith('{') && name.endsWith('}') ? name.slice(1, -1) : name;
}

export interface ConnectInfo {
  hostname: string;
  family: string;
  port: number;
  address: string;
}

/** SMFIC_CONNECT: hostname NUL, family byte, then (for inet families) port and address NUL. */
export function decodeConnect(payload: Buffer): ConnectInfo | null {
  const nul = payload.indexOf(0);
  if (nul < 0 || nul + 1 >= payload.length) return null;
  const hostname = payload.subarray(0, nul).toString('latin1');
  const family = String.fromCharCode(payload[nul + 1]);
  if (family === 'U') return { hostname, family, port: 0, address: '' };
  if (payload.length < nul + 4) return null;
  const port = payload.readUInt16BE(nul + 2);
  const address = readStrings(payload.subarray(nul + 4));
  if (!address || address.length !== 1) return null;
  return { hostname, family, port, address: address[0] };
}

/** SMFIC_HEADER: name NUL value NUL. */
export function decodeHeader(payload: Buffer): { name: string; value: string } | null {
  const strings = readStrings(payload);
  if (!strings || strings.length !== 2 || strings[0].length === 0) return null;
  return { name: strings[0], value: strings[1] };
}

export function encodeFrame(command: string, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length + 1, 0);
  head[4] = command.charCodeAt(0);
  return Buffer.concat([head, payload]);
}

function cstrings(...values: string[]): Buffer {
  return Buffer.concat(values.map((v) => Buffer.from(`${v}\0`, 'latin1')));
}

function uint32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
}

/** The filter's SMFIC_OPTNEG answer, with the macros it asks for per stage (SMFIM_*). */
export function encodeOptnegReply(actions: number, protocol: number, macros: Array<[stage: number, names: string]> = []): Buffer {
  const lists = macros.map(([stage, names]) => Buffer.concat([uint32(stage), cstrings(names)]));
  return encodeFrame(SMFIC.OPTNEG, Buffer.concat([uint32(MILTER_VERSION), uint32(actions), uint32(protocol), ...lists]));
}

export const encodeContinue = (): Buffer => encodeFrame(SMFIR.CONTINUE);
export const encodeAccept = (): Buffer => encodeFrame(SMFIR.ACCEPT);
export const encodeTempfail = (): Buffer => encodeFrame(SMFIR.TEMPFAIL);
export const encodeReject = (): Buffer => encodeFrame(SMFIR.REJECT);
export const encodeDiscard = (): Buffer => encodeFrame(SMFIR.DISCARD);

/** SMFIR_REPLYCODE: `550 5.7.68 text`; a `%` would be read as a format directive by sendmail. */
export function encodeReplyCode(code: number, enhanced: string, text: string): Buffer {
  const safe = text.replace(/[\r\n\0]/g, ' ').replace(/%/g, '%%');
  return encodeFrame(SMFIR.REPLYCODE, cstrings(`${code} ${enhanced} ${safe}`));
}

export function encodeAddHeader(name: string, value: string): Buffer {
  return encodeFrame(SMFIR.ADDHEADER, cstrings(name, value));
}

/** SMFIR_INSHEADER: `index` 0 puts the field first. */
export function encodeInsertHeader(index: number, name: string, value: string): Buffer {
  return encodeFrame(SMFIR.INSHEADER, Buffer.concat([uint32(index), cstrings(name, value)]));
}

/** SMFIR_CHGHEADER: the `index`-th (from 1) field called `name`; an empty value deletes it. */
export function encodeChangeHeader(index: number, name: string, value: string): Buffer {
  return encodeFrame(SMFIR.CHGHEADER, Buffer.concat([uint32(index), cstrings(name, value)]));
}

export function encodeQuarantine(reason: string): Buffer {
  return encodeFrame(SMFIR.QUARANTINE, cstrings(reason.replace(/[\r\n\0]/g, ' ')));
}
