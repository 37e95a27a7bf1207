// Reads the main.cf named by `mxward audit --postfix`; an unreadable file is a usage error
// naming the file (exit 2), like every other input of the audit.
import { readFile } from 'node:fs/promises';
import { UsageError } from '../cli/io.ts';
import { parseMainCf } from './postfix-audit.ts';
import type { MainCf } from './postfix-audit.ts';

export { auditPostfix } from './postfix-audit.ts';

export async function readPostfixMainCf(file: string): Promise<MainCf> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--postfix ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return parseMainCf(text, file);
}
