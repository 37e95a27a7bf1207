// One milter connection: the protocol state machine (which command needs which reply), with the
// decisions delegated to a MilterHandler. Knows the wire, not the policy; the policy adapter
// (milter-policy.ts) knows the policy, not the wire.
import type { SmtpReply } from '../../domain/types.ts';
import { SMFIC, SMFIF, SMFIM, SMFIP, SMFIR } from './constants.ts';
import {
  decodeConnect, decodeHeader, decodeMacros, decodeOptneg, encodeAccept, encodeAddHeader, encodeChangeHeader, encodeContinue, encodeFrame,
  encodeInsertHeader, encodeOptnegReply, encodeQuarantine, encodeReplyCode, encodeTempfail, readStrings,
} from './codec.ts';
import type { ConnectInfo, MilterFrame } from './codec.ts';

export type StepOutcome = { kind: 'continue' } | { kind: 'refuse'; reply: SmtpReply };

export type HeaderEdit =
  | { op: 'insert'; index: number; name: string; value: string }
  | { op: 'append'; name: string; value: string }
  /** `value` null deletes the field. `index` counts fields of that name from 1, as the MTA does. */
  | { op: 'change'; index: number; name: string; value: string | null };

export interface EomOutcome {
  /** A refusal ends the transaction with this reply; edits are then ignored. */
  refuse: SmtpReply | null;
  edits: HeaderEdit[];
  /** Set: hold the message in the MTA's quarantine (Postfix: the hold queue). */
  quarantineReason: string | null;
  /** Set: the new body (SMFIR_REPLBODY), e.g. with the external-sender banner (issue 18). */
  body?: Buffer | null;
}

export interface ReceivedHeader {
  /** The field name as the MTA sent it. */
  name: string;
  /** The value as sent: with its leading space when SMFIP_HDR_LEADSPC was negotiated. */
  value: string;
}

/** The policy side of a milter connection; one instance per connection. */
export interface MilterHandler {
  connect(info: ConnectInfo, macros: ReadonlyMap<string, string>): StepOutcome;
  helo(helo: string, macros: ReadonlyMap<string, string>): StepOutcome;
  mail(args: string[], macros: ReadonlyMap<string, string>): Promise<StepOutcome>;
  rcpt(args: string[], macros: ReadonlyMap<string, string>): Promise<StepOutcome>;
  endOfMessage(message: { headers: ReceivedHeader[]; body: Buffer[]; sizeBytes: number; leadingSpace: boolean }, macros: ReadonlyMap<string, string>): Promise<EomOutcome>;
  /** The transaction ended without end of message (RSET, a refusal, the client left). */
  abort(): void;
  /** The MTA closed the connection or asked to quit. */
  close(): void;
}

export interface MilterSessionOptions {
  maxMessageBytes: number;
  tooBig: SmtpReply;
}

/** What a command asks of the socket: bytes to send, and whether to close afterwards. */
export interface SessionOutput {
  replies: Buffer[];
  close: boolean;
}

/** Macros mxward asks Postfix for (it sends only those it knows; the defaults cover most). */
const WANTED_MACROS: Array<[number, string]> = [
  [SMFIM.CONNECT, 'j {client_addr} {client_port} {client_ptr} {daemon_port}'],
  [SMFIM.HELO, '{tls_version} {cipher} {cert_subject} {cert_issuer}'],
  [SMFIM.ENVFROM, 'i {auth_authen} {auth_type} {mail_addr}'],
  [SMFIM.ENVRCPT, '{rcpt_addr}'],
  [SMFIM.EOM, 'i'],
];

const WANTED_ACTIONS = SMFIF.ADDHDRS | SMFIF.CHGHDRS | SMFIF.QUARANTINE | SMFIF.CHGBODY;
/** libmilter's MILTER_CHUNK_SIZE: a replacement body goes in pieces no larger than this. */
const BODY_CHUNK_BYTES = 65535;
/** Steps mxward does not need (unknown commands, DATA) and header replies it does not send. */
const WANTED_PROTOCOL = SMFIP.NOUNKNOWN | SMFIP.NODATA | SMFIP.NR_HDR | SMFIP.HDR_LEADSPC;

const NO_OUTPUT: SessionOutput = { replies: [], close: false };
const one = (reply: Buffer): SessionOutput => ({ replies: [reply], close: false });

export class MilterSession {
  readonly #handler: MilterHandler;
  readonly #options: MilterSessionOptions;
  #macros = new Map<string, string>();
  #protocol = 0;
  #negotiated = false;
  #actions = 0;
  #headers: ReceivedHeader[] = [];
  #body: Buffer[] = [];
  #sizeBytes = 0;
  #tooBig = false;

  constructor(handler: MilterHandler, options: MilterSessionOptions) {
    this.#handler = handler;
    this.#options = options;
  }

  async handle(frame: MilterFrame): Promise<SessionOutput> {
    const c = frame.command;
    if (c === SMFIC.OPTNEG) return this.#negotiate(frame.payload);
    if (!this.#negotiated) return protocolError();
    switch (c) {
      case SMFIC.MACRO: {
        const m = decodeMacros(frame.payload);
        if (!m) return protocolError();
        for (const [k, v] of m.macros) this.#macros.set(k, v);
        return NO_OUTPUT;
      }
      case SMFIC.CONNECT: {
        const info = decodeConnect(frame.payload);
        return info ? this.#step(this.#handler.connect(info, this.#macros)) : protocolError();
      }
      case SMFIC.HELO: {
        const s = readStrings(frame.payload);
        return s ? this.#step(this.#handler.helo(s[0], this.#macros)) : protocolError();
      }
      case SMFIC.MAIL: {
        const s = readStrings(frame.payload);
        this.#resetMessage();
        return s ? this.#step(await this.#handler.mail(s, this.#macros)) : protocolError();
      }
      case SMFIC.RCPT: {
        const s = readStrings(frame.payload);
        return s ? this.#step(await this.#handler.rcpt(s, this.#macros)) : protocolError();
      }
      case SMFIC.DATA: case SMFIC.UNKNOWN: case SMFIC.EOH:
        return one(encodeContinue());
      case SMFIC.HEADER: return this.#header(frame.payload);
      case SMFIC.BODY: return this.#bodyChunk(frame.payload);
      case SMFIC.BODYEOB: return this.#endOfMessage(frame.payload);
      case SMFIC.ABORT:
        this.#handler.abort();
        this.#resetMessage();
        return NO_OUTPUT;
      case SMFIC.QUIT_NC:
        // The MTA reuses this connection for a new SMTP session: forget everything but the options.
        this.#handler.abort();
        this.#resetMessage();
        this.#macros = new Map();
        return NO_OUTPUT;
      case SMFIC.QUIT:
        this.#handler.close();
        return { replies: [], close: true };
      default:
        return protocolError();
    }
  }

  #negotiate(payload: Buffer): SessionOutput {
    const offer = decodeOptneg(payload);
    if (!offer || offer.version < 2) return protocolError();
    this.#protocol = WANTED_PROTOCOL & offer.protocol;
    this.#negotiated = true;
    // Macro lists in the reply are a version 6 feature; older MTAs would misread them.
    const macros = offer.version >= 6 ? WANTED_MACROS : [];
    this.#actions = WANTED_ACTIONS & offer.actions;
    return one(encodeOptnegReply(this.#actions, this.#protocol, macros));
  }

  #step(outcome: StepOutcome): SessionOutput {
    return one(outcome.kind === 'continue' ? encodeContinue() : replyCode(outcome.reply));
  }

  #count(bytes: number): void {
    this.#sizeBytes += bytes;
    if (this.#sizeBytes > this.#options.maxMessageBytes) {
      // Past the limit nothing more is kept: memory stays bounded whatever the MTA sends.
      this.#tooBig = true;
      this.#headers = [];
      this.#body = [];
    }
  }

  #header(payload: Buffer): SessionOutput {
    const h = decodeHeader(payload);
    if (!h) return protocolError();
    this.#count(h.name.length + h.value.length + 3);
    if (!this.#tooBig) this.#headers.push(h);
    return this.#protocol & SMFIP.NR_HDR ? NO_OUTPUT : one(encodeContinue());
  }

  #bodyChunk(payload: Buffer): SessionOutput {
    this.#count(payload.length);
    if (this.#tooBig) return one(replyCode(this.#options.tooBig));
    this.#body.push(Buffer.from(payload));
    return one(encodeContinue());
  }

  async #endOfMessage(payload: Buffer): Promise<SessionOutput> {
    if (payload.length > 0) this.#bodyChunk(payload);
    if (this.#tooBig) {
      this.#handler.abort();
      this.#resetMessage();
      return one(replyCode(this.#options.tooBig));
    }
    const outcome = await this.#handler.endOfMessage({
      headers: this.#headers, body: this.#body, sizeBytes: this.#sizeBytes, leadingSpace: (this.#protocol & SMFIP.HDR_LEADSPC) !== 0,
    }, this.#macros);
    this.#resetMessage();
    if (outcome.refuse) return one(replyCode(outcome.refuse));
    const replies = outcome.edits.map((e) => encodeEdit(e));
    // An MTA that did not grant body changes gets the header edits only.
    if (outcome.body && this.#actions & SMFIF.CHGBODY) {
      for (let at = 0; at < outcome.body.length; at += BODY_CHUNK_BYTES) replies.push(encodeFrame(SMFIR.REPLBODY, outcome.body.subarray(at, at + BODY_CHUNK_BYTES)));
    }
    if (outcome.quarantineReason !== null) replies.push(encodeQuarantine(outcome.quarantineReason));
    replies.push(encodeAccept());
    return { replies, close: false };
  }

  #resetMessage(): void {
    this.#headers = [];
    this.#body = [];
    this.#sizeBytes = 0;
    this.#tooBig = false;
  }
}

function encodeEdit(e: HeaderEdit): Buffer {
  if (e.op === 'insert') return encodeInsertHeader(e.index, e.name, e.value);
  if (e.op === 'append') return encodeAddHeader(e.name, e.value);
  return encodeChangeHeader(e.index, e.name, e.value ?? '');
}

/** 4xx and 5xx replies go as SMFIR_REPLYCODE so the client sees mxward's exact catalogue text. */
function replyCode(reply: SmtpReply): Buffer {
  return reply.code >= 400 ? encodeReplyCode(reply.code, reply.enhanced, reply.text) : encodeTempfail();
}

/**
 * A packet that cannot be read: close without a reply. The MTA cannot tell which reply the
 * stream was at, so it treats the filter as failed and applies milter_default_action (tempfail,
 * as docs/postfix.md advises).
 */
function protocolError(): SessionOutput {
  return { replies: [], close: true };
}
