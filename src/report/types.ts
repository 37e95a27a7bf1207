// The one row shape every importer yields (issue 5). Exports differ wildly in what they carry, so
// every fact is nullable: null means "this format does not say", never "false" or "empty".

export type InputFormat = 'message-trace-v2' | 'eac-trace' | 'defender-emailevents' | 'mail-headers' | 'mxward-trace';

export type AuthAs = 'anonymous' | 'internal' | 'partner';

export type Direction = 'inbound' | 'outbound' | 'intra-org';

/** Which header or column said what; `value` is absent when the row's own field holds it. */
export interface Evidence {
  fact: string;
  from: string;
  value?: string;
}

export interface RowOrigin {
  file: string;
  line: number;
  format: InputFormat;
}

export interface ReportRow {
  origin: RowOrigin;
  timeMs: number | null;
  /** Envelope sender (RFC 5321.MailFrom); '' for the null sender `<>`. */
  p1: string | null;
  /** RFC 5322.From addresses; null when the format does not carry the header. */
  p2: string[] | null;
  recipients: string[];
  subject: string | null;
  messageId: string | null;
  sourceIp: string | null;
  helo: string | null;
  ptr: string | null;
  connector: string | null;
  /** TLS client certificate name, known only from mxward's own trace. */
  certificateName: string | null;
  authAs: AuthAs | null;
  spf: string | null;
  dkim: string | null;
  dmarc: string | null;
  compauth: string | null;
  compauthReason: string | null;
  arc: string | null;
  direction: Direction | null;
  status: string | null;
  /** Threats the export names (Defender ThreatTypes, X-Forefront-Antispam-Report CAT/SFV): a signal against. */
  threats: string | null;
  evidence: readonly Evidence[];
}

export function emptyRow(origin: RowOrigin, evidence: readonly Evidence[]): ReportRow {
  return {
    origin, timeMs: null, p1: null, p2: null, recipients: [], subject: null, messageId: null,
    sourceIp: null, helo: null, ptr: null, connector: null, certificateName: null, authAs: null,
    spf: null, dkim: null, dmarc: null, compauth: null, compauthReason: null, arc: null,
    direction: null, status: null, threats: null, evidence,
  };
}

/** A malformed row or file: reported as `file:line: message`, skipped and counted. */
export interface InputProblem {
  file: string;
  line: number;
  message: string;
}

/** Where importers send rows (in batches, so 5M rows do not cost 5M awaits) and problems. */
export interface RowSink {
  rows(batch: ReportRow[]): void;
  problem(p: InputProblem): void;
}

export function formatProblem(p: InputProblem): string {
  return `${p.file}:${p.line}: ${p.message}`;
}
