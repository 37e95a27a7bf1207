// The auth-on set's sender: a domain whose SPF covers the driver (127.0.0.1), whose messages carry
// a DKIM signature made with a key generated per run, and which publishes DMARC p=reject. So every
// message passes SPF, DKIM and DMARC (compauth=pass reason=100), and a message that failed any of
// them would be refused at end of DATA (550 5.7.509) instead of slipping through unnoticed.
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth';
import { RECIPIENT } from './scenarios.ts';

// Under example. (RFC 2606), not test.: libunbound in OpenDKIM answers test. names itself (RFC 6761).
export const AUTH_DOMAIN = 'signed-partner.example';
export const AUTH_FROM = `billing@${AUTH_DOMAIN}`;
/**
 * A domain whose mail from the driver fails DMARC: SPF softfail (~all, so no SPF checker refuses it
 * at RCPT on its own), a DKIM signature broken by a change to the body, and p=reject.
 */
export const FORGED_DOMAIN = 'forged-partner.example';
export const FORGED_FROM = `billing@${FORGED_DOMAIN}`;
const SELECTOR = 's1';

export interface SenderKeys {
  privateKey: string;
  /** Zone-file lines for the loopback DNS server (relative to its root zone). */
  zone: string[];
}

/** A TXT value as quoted character-strings of at most 255 bytes each (RFC 1035 §3.3.14). */
function txt(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 250) parts.push(`"${value.slice(i, i + 250)}"`);
  return parts.join(' ');
}

export function senderKeys(): SenderKeys {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicKey = keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return {
    privateKey,
    zone: [
      `${AUTH_DOMAIN}. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`,
      `_dmarc.${AUTH_DOMAIN}. 300 IN TXT "v=DMARC1; p=reject"`,
      `${SELECTOR}._domainkey.${AUTH_DOMAIN}. 300 IN TXT ${txt(`v=DKIM1; k=rsa; p=${publicKey}`)}`,
      `${FORGED_DOMAIN}. 300 IN TXT "v=spf1 ip4:192.0.2.1 ~all"`,
      `_dmarc.${FORGED_DOMAIN}. 300 IN TXT "v=DMARC1; p=reject"`,
      `${SELECTOR}._domainkey.${FORGED_DOMAIN}. 300 IN TXT ${txt(`v=DKIM1; k=rsa; p=${publicKey}`)}`,
    ],
  };
}

/** A plain-text body of about `sizeBytes`, 76-character lines, no line starting with a dot. */
function body(sizeBytes: number, n: number): string {
  const line = `Invoice ${n}: the quick brown fox jumps over the lazy dog, line padding text.`.padEnd(76, 'x');
  const lines: string[] = [];
  for (let used = 0; used < sizeBytes; used += line.length + 2) lines.push(line);
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * `count` distinct messages of about `sizeBytes`, DKIM-signed (relaxed/relaxed, rsa-sha256), each
 * ready for the DATA phase: dot-stuffed (nothing to stuff here) and ending with CRLF.CRLF.
 */
export async function signedCorpus(keys: SenderKeys, count: number, sizeBytes: number, forged = false): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const domain = forged ? FORGED_DOMAIN : AUTH_DOMAIN;
  for (let n = 0; n < count; n++) {
    const raw = `From: Billing <billing@${domain}>\r\nTo: <${RECIPIENT}>\r\nSubject: Invoice ${n}\r\n` +
      `Message-ID: <bench-${n}-${sizeBytes}@${domain}>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${body(sizeBytes, n)}`;
    const signed = await dkimSign(raw, {
      signatureData: [{ signingDomain: domain, selector: SELECTOR, privateKey: keys.privateKey }],
    } as Parameters<typeof dkimSign>[1]);
    if (signed.errors?.length) throw new Error(`DKIM signing failed: ${JSON.stringify(signed.errors[0])}`);
    // Forged: the body changed after signing, as a replayed and edited message would be.
    const sent = forged ? raw.replace('the quick brown fox', 'the quick brown cat') : raw;
    out.push(Buffer.from(`${signed.signatures}${sent}.\r\n`, 'latin1'));
  }
  return out;
}
