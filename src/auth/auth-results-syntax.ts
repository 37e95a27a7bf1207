// RFC 8601 syntax for the values mxward copies into its Authentication-Results field (issue 19):
// a value that is not a plain token, domain or dot-atom mailbox becomes a quoted-string, and
// comments are reduced to a safe character set, so text a client chose (HELO, MAIL FROM, From)
// can never close a resinfo and start a forged one (`EHLO x;dmarc=pass`).

/** RFC 2045 §5.1 token: printable US-ASCII without space, controls or tspecials. */
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;
/** RFC 5322 dot-atom local part @ RFC 1035 LDH domain: RFC 8601 §2.2 allows it unquoted. */
const MAILBOX = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** Drops what may never reach a header: CR, LF, other controls, DEL. */
function printable(value: string): string {
  return value.replace(/[\x00-\x1f\x7f]/g, '');
}

/** A pvalue (RFC 8601 §2.2): bare when it is a token or a plain mailbox, else a quoted-string. */
export function propertyValue(value: string): string {
  const v = printable(value);
  if (v !== '' && (TOKEN.test(v) || MAILBOX.test(v))) return v;
  return `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** An RFC 5322 comment whose content cannot end early or nest: parentheses and backslashes go. */
export function comment(text: string | null | undefined): string {
  if (!text) return '';
  const c = printable(text).replace(/[()\\]/g, ' ').replace(/\s+/g, ' ').trim();
  return c ? ` (${c})` : '';
}

/** One resinfo: `method=result (comment) ptype.property=value ...`. */
export function resinfo(method: string, result: string, note: string | null | undefined, props: Array<[string, string | null | undefined]>): string {
  const parts = [`${method}=${result}${comment(note)}`];
  for (const [name, value] of props) if (value) parts.push(`${name}=${propertyValue(value)}`);
  return parts.join(' ');
}

/** The authserv-id (RFC 8601 §2.5): a value, quoted when it is not a token. */
export function authservIdValue(id: string): string {
  return propertyValue(id);
}
