// Independent readers of a delivered message, for differential tests (issue 11): Python's email
// package (one python3 process reads a whole batch) and mailparser. Each reports what a mail
// client would take as the From addresses and which header fields exist, so a test can check that
// they agree with what mxward decided.
import { spawn } from 'node:child_process';
import { simpleParser } from 'mailparser';
import { normalizeDomain } from '../../src/policy/domains.ts';

export interface Reading {
  /** Every From address the reader found, `local@domain` with the domain in A-label form. */
  from: string[];
  /** How many From fields the reader found. */
  fromFields: number;
  /** Lower-cased names of the header fields, in order. */
  names: string[];
  /** Values of the Authentication-Results fields. */
  authenticationResults: string[];
}

/** `local@domain` with quotes removed from the local part and the domain normalised. */
export function comparableAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 0) return address.toLowerCase();
  const local = address.slice(0, at).replace(/^"(.*)"$/, '$1').toLowerCase();
  return `${local}@${normalizeDomain(address.slice(at + 1)) ?? address.slice(at + 1).toLowerCase()}`;
}

const PYTHON_READER = String.raw`
import sys, json, base64, email, email.utils, email.policy
for line in sys.stdin:
    data = base64.b64decode(line.strip())
    # 8-bit header bytes are read as UTF-8 (RFC 6532), as mail clients and mxward read them.
    msg = email.message_from_string(data.decode('utf-8', 'replace'), policy=email.policy.compat32)
    froms = [str(v) for v in msg.get_all('From', [])]
    addrs = [a for (_, a) in email.utils.getaddresses(froms) if a]
    names = [k.strip().lower() for k in msg.keys()]
    ar = [str(v) for v in msg.get_all('Authentication-Results', [])]
    print(json.dumps({'from': addrs, 'fromFields': len(froms), 'names': names, 'authenticationResults': ar}), flush=True)
`;

/**
 * Runs a Python script that reads one base64 message per stdin line and prints one JSON line per
 * message: one process for the whole batch, its lines in message order.
 */
export function runPythonPerMessage<T>(script: string, messages: Buffer[]): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString('utf8'); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) { reject(new Error(`python3 failed (${code}): ${err.slice(0, 2000)}`)); return; }
      resolve(out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as T));
    });
    child.stdin.end(messages.map((m) => m.toString('base64')).join('\n') + '\n');
  });
}

/** Python's reading of each message, in order; one process for the whole batch. */
export async function readWithPython(messages: Buffer[]): Promise<Reading[]> {
  const readings = await runPythonPerMessage<Reading>(PYTHON_READER, messages);
  return readings.map((r) => ({ ...r, from: r.from.map(comparableAddress) }));
}

export async function readWithMailparser(message: Buffer): Promise<Reading> {
  const parsed = await simpleParser(message, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  const names = parsed.headerLines.map((h) => h.key);
  const fromLines = parsed.headerLines.filter((h) => h.key === 'from');
  const from = (parsed.from?.value ?? []).flatMap(function flatten(a): string[] {
    return a.group ? a.group.flatMap(flatten) : a.address ? [comparableAddress(a.address)] : [];
  });
  const ar = parsed.headerLines.filter((h) => h.key === 'authentication-results').map((h) => h.line.slice(h.line.indexOf(':') + 1).trim());
  return { from, fromFields: fromLines.length, names, authenticationResults: ar };
}
