// The durable spool. A message is ours only once both of its files are renamed into queue/ and
// the directory entry is fsynced; only then may the gateway answer 250 (SPEC §2.6).
//
//   tmp/<id>.eml   the message as it streams in (sanitised header section + body)
//   queue/<id>.eml the committed message
//   queue/<id>.json the committed envelope; its presence is what "committed" means
//
// Order at commit: fsync message, write+fsync envelope in tmp, rename message, rename envelope,
// fsync queue/. A crash before the envelope rename leaves an orphan message that recovery removes;
// a crash after it leaves a complete entry.
import { mkdir, open, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { SpoolEnvelope } from './envelope.ts';
import { GroupSync } from './group-sync.ts';

export function newQueueId(): string {
  return `${Date.now().toString(36).toUpperCase()}${randomBytes(5).toString('hex').toUpperCase()}`;
}

export interface SpoolWriter {
  readonly queueId: string;
  /** The partial file, readable by end-of-DATA checks before commit. */
  readonly path: string;
  write(chunk: Buffer): Promise<void>;
  readonly bytesWritten: number;
  /** Drop the partial file (rejected or aborted transaction). */
  discard(): Promise<void>;
  /** Flush and close without committing: the file is handed to the quarantine instead (issue 3). */
  syncAndClose(): Promise<void>;
}

class FileSpoolWriter implements SpoolWriter {
  readonly queueId: string;
  readonly path: string;
  bytesWritten = 0;
  #handle: FileHandle;
  constructor(queueId: string, path: string, handle: FileHandle) {
    this.queueId = queueId;
    this.path = path;
    this.#handle = handle;
  }
  async write(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await this.#handle.write(chunk, offset, chunk.length - offset);
      offset += bytesWritten;
    }
    this.bytesWritten += chunk.length;
  }
  async syncAndClose(): Promise<void> {
    await this.#handle.sync();
    await this.#handle.close();
  }
  async discard(): Promise<void> {
    await this.#handle.close().catch(() => {});
    await unlink(this.path).catch(() => {});
  }
}

export class Spool {
  readonly root: string;
  readonly tmpDir: string;
  readonly queueDir: string;
  /** Touched by `mxward queue retry|flush`; a running gateway rescans when its mtime moves. */
  readonly wakeupPath: string;
  /** One fsync of queue/ for the commits that reach it together (group-sync.ts). */
  readonly #queueDirSync: GroupSync;

  constructor(root: string) {
    this.root = root;
    this.tmpDir = join(root, 'tmp');
    this.queueDir = join(root, 'queue');
    this.wakeupPath = join(root, 'wakeup');
    this.#queueDirSync = new GroupSync(this.queueDir, syncDirectory);
  }

  /** Asks a running gateway (another process) to look at the queue again. */
  async requestRescan(): Promise<void> {
    await writeFile(this.wakeupPath, `${new Date().toISOString()} ${process.pid}\n`);
  }

  /** A message built here (a DSN) goes through the same durable commit as one received. */
  async commitBuffer(content: Buffer, makeEnvelope: (queueId: string) => SpoolEnvelope): Promise<string> {
    const writer = await this.createWriter();
    try {
      await writer.write(content);
      await this.commit(writer, makeEnvelope(writer.queueId));
    } catch (err) {
      await writer.discard();
      throw err;
    }
    return writer.queueId;
  }

  /** Creates the directories and removes what a crash left half-written. */
  async recover(): Promise<string[]> {
    await mkdir(this.tmpDir, { recursive: true });
    await mkdir(this.queueDir, { recursive: true });
    for (const name of await readdir(this.tmpDir)) await unlink(join(this.tmpDir, name)).catch(() => {});
    const names = new Set(await readdir(this.queueDir));
    const committed: string[] = [];
    for (const name of names) {
      if (!name.endsWith('.eml')) continue;
      const id = name.slice(0, -4);
      if (names.has(`${id}.json`)) committed.push(id);
      else await unlink(join(this.queueDir, name)).catch(() => {});
    }
    for (const name of names) {
      // An envelope whose message is gone cannot be delivered; it only arises from manual deletion.
      if (name.endsWith('.json') && !names.has(`${name.slice(0, -5)}.eml`)) await unlink(join(this.queueDir, name)).catch(() => {});
    }
    return committed.sort();
  }

  async createWriter(queueId: string = newQueueId()): Promise<SpoolWriter> {
    const path = join(this.tmpDir, `${queueId}.eml`);
    const handle = await open(path, 'wx', 0o600);
    return new FileSpoolWriter(queueId, path, handle);
  }

  /** Makes the message durable. Resolves only after the directory entry is on disk. */
  async commit(writer: SpoolWriter, envelope: SpoolEnvelope): Promise<void> {
    const w = writer as FileSpoolWriter;
    await w.syncAndClose();
    const envTmp = join(this.tmpDir, `${w.queueId}.json`);
    await writeDurably(envTmp, JSON.stringify(envelope));
    await rename(w.path, this.messagePath(w.queueId));
    await rename(envTmp, this.envelopePath(w.queueId));
    await this.#queueDirSync.sync();
  }

  messagePath(queueId: string): string {
    return join(this.queueDir, `${queueId}.eml`);
  }

  envelopePath(queueId: string): string {
    return join(this.queueDir, `${queueId}.json`);
  }

  async readEnvelope(queueId: string): Promise<SpoolEnvelope | null> {
    try {
      return JSON.parse(await readFile(this.envelopePath(queueId), 'utf8')) as SpoolEnvelope;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** Per-recipient progress is written the same durable way (tmp, fsync, rename). */
  async updateEnvelope(envelope: SpoolEnvelope): Promise<void> {
    const tmp = join(this.tmpDir, `${envelope.queueId}.json.${randomBytes(3).toString('hex')}`);
    await writeDurably(tmp, JSON.stringify(envelope));
    await rename(tmp, this.envelopePath(envelope.queueId));
  }

  /** Envelope first: once it is gone the entry is no longer committed, whatever happens next. */
  async remove(queueId: string): Promise<void> {
    await unlink(this.envelopePath(queueId)).catch(() => {});
    await unlink(this.messagePath(queueId)).catch(() => {});
  }

  async listQueueIds(): Promise<string[]> {
    const names = await readdir(this.queueDir);
    return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).sort();
  }
}

async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
