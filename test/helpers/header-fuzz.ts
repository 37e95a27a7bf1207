// The header fuzzer of issue 11: header sections built from the fragments attackers use (bare CR
// and LF, folds, whitespace and control bytes before colons, brackets, quotes, comments, encoded
// words, full-width letters, forged trust fields), read by mxward's canonicaliser, and every one it
// accepts read again by Python's email package and mailparser. The property: no crash, and every
// reader sees the author and trust fields mxward decided on.
import fc from 'fast-check';
import { canonicalMessage } from '../../src/smtp/header-section.ts';
import { disagreements } from './agreement.ts';
import { readWithMailparser, readWithPython } from './message-readers.ts';

export const FUZZ_AUTHSERV_ID = 'mx.test.example';

const names = ['From', 'from', 'FROM', 'To', 'Subject', 'X-Mxward-AuthAs', 'x-mxward-verdict', 'Authentication-Results', 'Received', 'X-A'];
const nameTails = ['', '', '', ' ', '\t', '\x0b', '\xa0', '\r\n ', '\x00'];
const pieces = [
  ' ', ' ', 'ceo@contoso.test', 'x@evil.test', 'ceo', '@', 'contoso.test', 'evil.test', '.', '<', '>', '"', '(', ')', ',',
  ';', ':', '\\', 'CEO', '=?utf-8?B?Y2VvQGNvbnRvc28udGVzdA==?=', 'mx.test.example', 'MX.TEST.EXAMPLE.', 'dmarc=pass',
  '\r', '\n', '\r\n', '\r\n ', '\r\n\t', '\t', '\x00', '\xef\xbd\x83', '[192.0.2.1]', 'Internal',
];
const terminators = ['\r\n', '\r\n', '\r\n', '\n', '\r', '\n\r'];

const field = fc.tuple(fc.constantFrom(...names), fc.constantFrom(...nameTails), fc.array(fc.constantFrom(...pieces), { maxLength: 10 }), fc.constantFrom(...terminators))
  .map(([name, tail, value, end]) => `${name}${tail}:${value.join('')}${end}`);

/** A message: a few fields (sometimes a From first), the empty line and a body. */
export const messageArbitrary = fc.tuple(fc.boolean(), fc.array(field, { minLength: 0, maxLength: 6 }))
  .map(([withFrom, fields]) => Buffer.from(`${withFrom ? 'From: x@evil.test\r\n' : ''}${fields.join('')}\r\nbody\r\n`, 'latin1'));

export interface FuzzResult {
  runs: number;
  accepted: number;
  refused: number;
  problems: Array<{ input: string; problems: string[] }>;
}

/** Runs `runs` generated messages (in batches, so Python starts once per batch). */
export async function fuzzHeaders(runs: number, seed: number, batchSize = 20_000): Promise<FuzzResult> {
  const result: FuzzResult = { runs: 0, accepted: 0, refused: 0, problems: [] };
  for (let done = 0; done < runs; done += batchSize) {
    const inputs = fc.sample(messageArbitrary, { numRuns: Math.min(batchSize, runs - done), seed: seed + done });
    const accepted: Array<{ input: Buffer; bytes: Buffer; author: string }> = [];
    for (const input of inputs) {
      result.runs++;
      const m = canonicalMessage(input, FUZZ_AUTHSERV_ID);
      if (m.ok && m.facts.author.kind === 'single') accepted.push({ input, bytes: m.bytes, author: m.facts.author.address });
      else result.refused++;
    }
    result.accepted += accepted.length;
    const python = await readWithPython(accepted.map((a) => a.bytes));
    for (const [i, a] of accepted.entries()) {
      const problems = [
        ...disagreements(a.author, FUZZ_AUTHSERV_ID, python[i]).map((p) => `python: ${p}`),
        ...disagreements(a.author, FUZZ_AUTHSERV_ID, await readWithMailparser(a.bytes)).map((p) => `mailparser: ${p}`),
      ];
      if (problems.length > 0 && result.problems.length < 20) result.problems.push({ input: JSON.stringify(a.input.toString('latin1')), problems });
    }
  }
  return result;
}
