// A throwaway PKI made with the openssl CLI: a CA, and client certificates signed by it (or
// self-signed) with the names a test needs.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './commands.ts';

export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

async function openssl(args: string[]): Promise<void> {
  const r = await run('openssl', args);
  if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

export interface IssueOptions {
  /** Not signed by any CA: verification against the gateway's trust store fails. */
  selfSigned?: boolean;
  /** Sign with this CA (from issueSubCa) instead of the root. */
  issuer?: IssuedCertificate;
  /** Default clientAuth,serverAuth; e.g. serverAuth alone for a certificate not meant for clients. */
  extendedKeyUsage?: string;
  /** Validity in days from now (default 30); -1 gives a certificate that has already expired. */
  days?: number;
  /** Raw extension lines replacing the extendedKeyUsage line (used for CA certificates). */
  extensions?: string;
}

/** The DER certificate's SHA-256 as Node prints fingerprint256 (AB:CD:…). */
export function sha256Fingerprint(cert: IssuedCertificate): string {
  return new X509Certificate(cert.cert).fingerprint256;
}

export class TestPki {
  readonly dir: string;
  readonly caFile: string;
  readonly #caKey: string;

  private constructor(dir: string) {
    this.dir = dir;
    this.caFile = join(dir, 'ca.crt');
    this.#caKey = join(dir, 'ca.key');
  }

  static async create(): Promise<TestPki> {
    const pki = new TestPki(await mkdtemp(join(tmpdir(), 'mxward-pki-')));
    await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', pki.#caKey, '-out', pki.caFile,
      '-days', '30', '-subj', '/CN=mxward test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    return pki;
  }

  /**
   * A client certificate with subject CN `cn` and the given SAN dNSNames. `selfSigned` skips the
   * CA, so verification against the gateway's trust store fails.
   */
  async issue(name: string, cn: string, dnsNames: string[], opts: IssueOptions = {}): Promise<IssuedCertificate> {
    const keyFile = join(this.dir, `${name}.key`);
    const certFile = join(this.dir, `${name}.crt`);
    const csr = join(this.dir, `${name}.csr`);
    const ext = join(this.dir, `${name}.ext`);
    const san = dnsNames.length ? `subjectAltName=${dnsNames.map((d) => `DNS:${d}`).join(',')}\n` : '';
    const extensions = opts.extensions ?? `extendedKeyUsage=${opts.extendedKeyUsage ?? 'clientAuth,serverAuth'}\n`;
    await writeFile(ext, `${san}${extensions}`);
    // -utf8: names with non-ASCII characters (full-width letters, soft hyphen) are written as
    // UTF8String exactly as given; ASCII names come out the same as without it.
    await openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-utf8', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${cn}`]);
    const validity = ['-days', String(opts.days ?? 30)];
    const issuer = opts.issuer ? ['-CA', opts.issuer.certFile, '-CAkey', opts.issuer.keyFile] : ['-CA', this.caFile, '-CAkey', this.#caKey];
    if (opts.selfSigned) {
      await openssl(['x509', '-req', '-in', csr, '-signkey', keyFile, '-out', certFile, '-extfile', ext, ...validity]);
    } else {
      await openssl(['x509', '-req', '-in', csr, ...issuer, '-CAcreateserial', '-out', certFile, '-extfile', ext, ...validity]);
    }
    return { certFile, keyFile, cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
  }

  /**
   * An intermediate CA under the root whose name constraints permit only `permittedDns` (and
   * their subdomains), the way a partner's own issuing CA would be delegated (RFC 5280 §4.2.1.10).
   */
  async issueSubCa(name: string, permittedDns: string[]): Promise<IssuedCertificate> {
    const constraints = permittedDns.map((d) => `permitted;DNS:${d}`).join(',');
    return this.issue(name, `${name} issuing CA`, [], {
      extensions: `basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nnameConstraints=critical,${constraints}\n`,
    });
  }
}
