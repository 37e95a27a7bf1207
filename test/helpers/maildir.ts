// Reading what the embedded Maildir target delivered, waiting for the queue runner.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { maildirFolderName } from '../../src/spool/targets/maildir.ts';

export async function maildirMessages(dataDir: string, recipient: string): Promise<string[]> {
  const dir = join(dataDir, 'maildir', maildirFolderName(recipient), 'new');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return Promise.all(names.sort().map((n) => readFile(join(dir, n), 'utf8')));
}

/** Waits (bounded) until `count` messages are in the recipient's Maildir, then returns them. */
export async function waitForMaildir(dataDir: string, recipient: string, count = 1, timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const messages = await maildirMessages(dataDir, recipient);
    if (messages.length >= count || Date.now() > deadline) return messages;
    await new Promise((r) => setTimeout(r, 25));
  }
}
