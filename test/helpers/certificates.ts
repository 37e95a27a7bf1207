// A throwaway PKI made with the openssl CLI: a CA, and client certificates signed by it (or
// self-signed) with the names a test needs.
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
  async issue(name: string, cn: string, dnsNames: string[], opts: { selfSigned?: boolean } = {}): Promise<IssuedCertificate> {
    const keyFile = join(this.dir, `${name}.key`);
    const certFile = join(this.dir, `${name}.crt`);
    const csr = join(this.dir, `${name}.csr`);
    const ext = join(this.dir, `${name}.ext`);
    const san = dnsNames.length ? `subjectAltName=${dnsNames.map((d) => `DNS:${d}`).join(',')}\n` : '';
    await writeFile(ext, `${san}extendedKeyUsage=clientAuth,serverAuth\n`);
    await openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${cn}`]);
    const validity = ['-days', '30'];
    if (opts.selfSigned) {
      await openssl(['x509', '-req', '-in', csr, '-signkey', keyFile, '-out', certFile, '-extfile', ext, ...validity]);
    } else {
      await openssl(['x509', '-req', '-in', csr, '-CA', this.caFile, '-CAkey', this.#caKey, '-CAcreateserial', '-out', certFile, '-extfile', ext, ...validity]);
    }
    return { certFile, keyFile, cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
  }
}
