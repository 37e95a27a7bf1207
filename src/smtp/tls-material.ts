// Certificate for STARTTLS: the configured PEM files, or a self-signed pair generated once on
// first start and kept in the data directory.
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import type { BootstrapConfig } from '../config/bootstrap.ts';
import { ConfigError } from '../config/errors.ts';
import type { TlsMaterial } from './server.ts';

async function readPem(file: string, field: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(field, [`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`], { cause: err });
  }
}

async function selfSigned(dir: string, hostname: string): Promise<{ key: string; cert: string }> {
  const keyFile = join(dir, 'self-signed.key');
  const certFile = join(dir, 'self-signed.crt');
  try {
    return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8') };
  } catch {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pems = await generate([{ name: 'commonName', value: hostname }], {
      keySize: 2048,
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 825 * 24 * 3600 * 1000),
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: hostname }, { type: 2, value: 'localhost' }] }],
    });
    await writeFile(keyFile, pems.private, { mode: 0o600 });
    await writeFile(certFile, pems.cert);
    return { key: pems.private, cert: pems.cert };
  }
}

/**
 * The client-certificate trust store. Each PEM block must be a certificate Node can read: a file
 * that holds none (a key, a typo'd path to the wrong PEM) would make every client certificate
 * "unverified" and every certificate connector silently match nothing (SPEC §2.2).
 */
function trustAnchors(pem: string, file: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError('tls.caFile', [`${file}: no PEM certificate in the file`]);
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new ConfigError('tls.caFile', [`${file}: certificate ${i + 1} cannot be read: ${(err as Error).message}`], { cause: err });
    }
  });
  return pem;
}

export async function loadTlsMaterial(config: BootstrapConfig, tlsDir: string): Promise<TlsMaterial> {
  const { certFile, keyFile, caFile } = config.tls;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError('tls', ['certFile and keyFile go together: set both or neither']);
  }
  const pair = certFile && keyFile
    ? { cert: await readPem(certFile, 'tls.certFile'), key: await readPem(keyFile, 'tls.keyFile') }
    : await selfSigned(tlsDir, config.hostname);
  return { ...pair, ca: caFile ? trustAnchors(await readPem(caFile, 'tls.caFile'), caFile) : undefined };
}
