// The Postfix SMTPD policy delegation protocol (SMTPD_POLICY_README): a request is `name=value`
// lines ended by an empty line; the answer is `action=…` and an empty line. A connection carries
// many requests, one after another, possibly sent before the previous answer (pipelined). Pure:
// bytes in, requests out, with bounded memory whatever the client sends.

export type PolicyRequest =
  | { ok: true; attributes: Map<string, string> }
  /** A request that could not be read; it is still answered (in order), so the stream stays in step. */
  | { ok: false; problem: string };

export interface PolicyLimits {
  /** A longer line is not kept; the request is answered as malformed. */
  maxLineBytes: number;
  maxAttributes: number;
}

export const DEFAULT_POLICY_LIMITS: PolicyLimits = { maxLineBytes: 16 * 1024, maxAttributes: 256 };

const LF = 0x0a;

/**
 * Splits a byte stream into requests. A line over the limit is skipped up to its newline (not
 * buffered), and its request is reported as malformed when its empty line arrives.
 */
export class PolicyRequestReader {
  readonly #limits: PolicyLimits;
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #skippingLine = false;
  #attributes = new Map<string, string>();
  #lines = 0;
  #problem: string | null = null;

  constructor(limits: PolicyLimits = DEFAULT_POLICY_LIMITS) {
    this.#limits = limits;
  }

  push(chunk: Buffer): PolicyRequest[] {
    const out: PolicyRequest[] = [];
    let at = 0;
    while (at < chunk.length) {
      const nl = chunk.indexOf(LF, at);
      const end = nl < 0 ? chunk.length : nl;
      this.#collect(chunk.subarray(at, end));
      if (nl < 0) break;
      const line = this.#skippingLine ? null : Buffer.concat(this.#partial, this.#partialBytes).toString('utf8');
      this.#partial = [];
      this.#partialBytes = 0;
      const skipped = this.#skippingLine;
      this.#skippingLine = false;
      const request = this.#line(line, skipped);
      if (request) out.push(request);
      at = nl + 1;
    }
    return out;
  }

  #collect(piece: Buffer): void {
    if (this.#skippingLine || piece.length === 0) return;
    if (this.#partialBytes + piece.length > this.#limits.maxLineBytes) {
      this.#skippingLine = true;
      this.#partial = [];
      this.#partialBytes = 0;
      this.#problem ??= `an attribute line exceeds ${this.#limits.maxLineBytes} bytes`;
      return;
    }
    this.#partial.push(Buffer.from(piece));
    this.#partialBytes += piece.length;
  }

  #line(text: string | null, skipped: boolean): PolicyRequest | null {
    const line = text?.replace(/\r$/, '') ?? null;
    if (!skipped && line === '') {
      const request: PolicyRequest = this.#problem ? { ok: false, problem: this.#problem } : { ok: true, attributes: this.#attributes };
      this.#attributes = new Map();
      this.#lines = 0;
      this.#problem = null;
      return request;
    }
    if (line === null) return null;
    this.#lines++;
    const eq = line.indexOf('=');
    if (eq <= 0) { this.#problem ??= `line ${this.#lines} is not name=value`; return null; }
    if (this.#attributes.size >= this.#limits.maxAttributes) { this.#problem ??= `more than ${this.#limits.maxAttributes} attributes`; return null; }
    const name = line.slice(0, eq);
    // A repeated name keeps the first value: a later line cannot override what Postfix sent first.
    if (!this.#attributes.has(name)) this.#attributes.set(name, line.slice(eq + 1));
    return null;
  }
}

/** The answer line. Values come from the reply catalogue and mxward's own text, never the client's. */
export function encodePolicyAction(action: string): Buffer {
  return Buffer.from(`action=${action.replace(/[\r\n]/g, ' ')}\n\n`, 'utf8');
}
