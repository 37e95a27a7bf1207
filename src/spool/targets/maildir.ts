// The embedded default target: one Maildir per recipient under the data directory. Each file is
// written to tmp/, fsynced and renamed into new/ (the Maildir protocol), so a reader never sees
// half a message.
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { DeliveryJob, DeliveryTarget, RecipientOutcome } from '../delivery.ts';
import { syncDirectory } from '../spool.ts';

/** Folder name for a recipient: lower-cased, with path separators and dots-only names refused. */
export function maildirFolderName(recipient: string): string {
  const name = recipient.trim().toLowerCase().replace(/[/\\\0]/g, '_');
  return name === '' || /^\.+$/.test(name) ? '_' : name;
}

/** NAME_MAX of Linux file systems (ext4, xfs, btrfs, tmpfs): one path component, in bytes. */
const MAX_NAME_BYTES = 255;

/**
 * Pure: why this target can never store mail for the recipient, or null when it can. Checked at
 * RCPT (hooks/on-rcpt-to.ts) so such an address gets 550 5.1.3 instead of a 250 followed by a
 * delivery that fails forever: 240 × `é` is 480 bytes of folder name.
 */
export function maildirUnstorableReason(recipient: string): string | null {
  const bytes = Buffer.byteLength(maildirFolderName(recipient), 'utf8');
  return bytes > MAX_NAME_BYTES ? `maildir folder name is ${bytes} bytes, over the file system's ${MAX_NAME_BYTES}` : null;
}

/**
 * Errors no retry can cure: the name itself is refused by the file system. Everything else
 * (full disk, I/O error, permissions an operator can fix) stays temporary.
 */
const PERMANENT_ERRORS = new Set(['ENAMETOOLONG', 'EILSEQ']);

export class MaildirTarget implements DeliveryTarget {
  readonly name = 'maildir';
  readonly #root: string;
  constructor(root: string) {
    this.#root = root;
  }

  async deliver(job: DeliveryJob): Promise<RecipientOutcome[]> {
    const outcomes: RecipientOutcome[] = [];
    for (const recipient of job.recipients) {
      // Accepted before this check existed (or routed here since): bounce now, not in five days.
      const unstorable = maildirUnstorableReason(recipient);
      if (unstorable) {
        outcomes.push({ status: 'failed', reply: `550 5.1.3 ${unstorable}` });
        continue;
      }
      try {
        const file = await this.#deliverOne(job, recipient);
        outcomes.push({ status: 'delivered', reply: `maildir ${file}` });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        // Local disk trouble is temporary from the sender's point of view: retry later. A name
        // the file system refuses is permanent, and is bounced at once (queue-runner.ts).
        if (PERMANENT_ERRORS.has(code)) outcomes.push({ status: 'failed', reply: `550 5.1.3 maildir cannot store this recipient: ${code}` });
        else outcomes.push({ status: 'deferred', reply: `maildir write failed: ${(err as Error).message}` });
      }
    }
    return outcomes;
  }

  async #deliverOne(job: DeliveryJob, recipient: string): Promise<string> {
    const box = join(this.#root, maildirFolderName(recipient));
    await Promise.all(['tmp', 'new', 'cur'].map((d) => mkdir(join(box, d), { recursive: true })));
    const unique = `${Date.now()}.${job.queueId}_${randomBytes(4).toString('hex')}.${hostname()}`;
    const tmpPath = join(box, 'tmp', unique);
    try {
      await pipeline(job.openMessage(), createWriteStream(tmpPath, { mode: 0o600 }));
      const handle = await open(tmpPath, 'r');
      await handle.sync();
      await handle.close();
      await rename(tmpPath, join(box, 'new', unique));
      await syncDirectory(join(box, 'new'));
    } catch (err) {
      await unlink(tmpPath).catch(() => {});
      throw err;
    }
    return unique;
  }
}
