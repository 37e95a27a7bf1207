// The Sendmail milter protocol (version 6) as Postfix speaks it (MILTER_README). Every packet is
// a 4-byte big-endian length, then a one-byte command, then `length - 1` bytes of data. The MTA
// sends SMFIC_* commands; the filter answers with SMFIR_* replies. Values follow libmilter's
// mfdef.h, which both ends of the wire must agree on.

export const MILTER_VERSION = 6;

/** Commands from the MTA (a single ASCII character each). */
export const SMFIC = Object.freeze({
  ABORT: 'A',
  BODY: 'B',
  CONNECT: 'C',
  MACRO: 'D',
  BODYEOB: 'E',
  HELO: 'H',
  QUIT_NC: 'K',
  HEADER: 'L',
  MAIL: 'M',
  EOH: 'N',
  OPTNEG: 'O',
  QUIT: 'Q',
  RCPT: 'R',
  DATA: 'T',
  UNKNOWN: 'U',
});

/** Replies and modification requests from the filter. */
export const SMFIR = Object.freeze({
  ADDRCPT: '+',
  DELRCPT: '-',
  ACCEPT: 'a',
  REPLBODY: 'b',
  CONTINUE: 'c',
  DISCARD: 'd',
  CHGFROM: 'e',
  ADDHEADER: 'h',
  INSHEADER: 'i',
  CHGHEADER: 'm',
  PROGRESS: 'p',
  QUARANTINE: 'q',
  REJECT: 'r',
  SKIP: 's',
  TEMPFAIL: 't',
  REPLYCODE: 'y',
});

/** Actions the filter may take (negotiated in SMFIC_OPTNEG). */
export const SMFIF = Object.freeze({
  ADDHDRS: 0x01,
  CHGBODY: 0x02,
  ADDRCPT: 0x04,
  DELRCPT: 0x08,
  CHGHDRS: 0x10,
  QUARANTINE: 0x20,
  CHGFROM: 0x40,
  ADDRCPT_PAR: 0x80,
  SETSYMLIST: 0x100,
});

/** Protocol steps the filter may switch off or declare reply-less (negotiated in SMFIC_OPTNEG). */
export const SMFIP = Object.freeze({
  NOCONNECT: 0x01,
  NOHELO: 0x02,
  NOMAIL: 0x04,
  NORCPT: 0x08,
  NOBODY: 0x10,
  NOHDRS: 0x20,
  NOEOH: 0x40,
  NR_HDR: 0x80,
  NOUNKNOWN: 0x100,
  NODATA: 0x200,
  SKIP: 0x400,
  RCPT_REJ: 0x800,
  NR_CONN: 0x1000,
  NR_HELO: 0x2000,
  NR_MAIL: 0x4000,
  NR_RCPT: 0x8000,
  NR_DATA: 0x10000,
  NR_UNKN: 0x20000,
  NR_EOH: 0x40000,
  NR_BODY: 0x80000,
  HDR_LEADSPC: 0x100000,
});

/** Stages for which a filter may request macros in its SMFIC_OPTNEG reply (SMFIM_*). */
export const SMFIM = Object.freeze({
  CONNECT: 0,
  HELO: 1,
  ENVFROM: 2,
  ENVRCPT: 3,
  DATA: 4,
  EOM: 5,
  EOH: 6,
});

/** Address families in SMFIC_CONNECT. */
export const SMFIA = Object.freeze({
  UNKNOWN: 'U',
  UNIX: 'L',
  INET: '4',
  INET6: '6',
});
