// A throwaway PKI made with the openssl CLI: a CA, and client certificates signed by it (or
// self-signed) with the names a test needs.
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
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
   * A leaf signed by the root whose validity starts and ends at the given times (openssl `ca`,
   * since `x509 -req` in OpenSSL 3.0 can only count days from now): for not-yet-valid certificates.
   */
  async issueWithDates(name: string, cn: string, dnsNames: string[], notBefore: Date, notAfter: Date): Promise<IssuedCertificate> {
    const keyFile = join(this.dir, `${name}.key`);
    const certFile = join(this.dir, `${name}.crt`);
    const csr = join(this.dir, `${name}.csr`);
    const work = join(this.dir, `${name}-ca`);
    await mkdir(work, { recursive: true });
    await writeFile(join(work, 'index.txt'), '');
    await writeFile(join(work, 'serial'), '1000\n');
    const config = join(work, 'ca.cnf');
    await writeFile(config, [
      '[ca]', 'default_ca = test_ca', '[test_ca]', `database = ${join(work, 'index.txt')}`, `new_certs_dir = ${work}`,
      `certificate = ${this.caFile}`, `private_key = ${this.#caKey}`, `serial = ${join(work, 'serial')}`, 'default_md = sha256',
      'policy = any_name', 'copy_extensions = none', 'x509_extensions = leaf', '[any_name]', 'commonName = supplied', '[leaf]',
      'extendedKeyUsage = clientAuth', ...(dnsNames.length ? [`subjectAltName = ${dnsNames.map((d) => `DNS:${d}`).join(',')}`] : []), '',
    ].join('\n'));
    const asn1Time = (d: Date) => d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
    await openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${cn}`]);
    await openssl(['ca', '-batch', '-notext', '-config', config, '-in', csr, '-out', certFile, '-startdate', asn1Time(notBefore), '-enddate', asn1Time(notAfter)]);
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
