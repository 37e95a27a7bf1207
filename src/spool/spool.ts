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
//
// With `serve --workers N` (serve-workers.ts) every worker process writes into the same queue/,
// each through its own tmp/w<k>/, and owns a fixed share of the queue ids: the last byte of the
// id modulo N names the worker (ownerSlot). A worker creates ids in its own share only, recovers
// and delivers only its own entries, and never touches a sibling's tmp/ files. The queue CLI and a
// release from the CLI see one queue/ as before; the owner picks a CLI-made entry up at its rescan.
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { SpoolEnvelope } from './envelope.ts';
import { GroupSync } from './group-sync.ts';
import { Journal, readJournal } from './journal.ts';
import { takeRandomBytes } from './random-bytes.ts';

export function newQueueId(slot?: { index: number; count: number }): string {
  const random = takeRandomBytes(5);
  if (slot && slot.count > 1) {
    // Move the last byte into this worker's residue class (bytes 0-255, count < 256).
    let b = random[4] - (random[4] % slot.count) + slot.index;
    if (b > 255) b -= slot.count;
    random[4] = b;
  }
  return `${Date.now().toString(36).toUpperCase()}${random.toString('hex').toUpperCase()}`;
}

/** Which of `count` workers owns this queue id (0-based); every id has exactly one owner. */
export function ownerSlot(queueId: string, count: number): number {
  const last = Number.parseInt(queueId.slice(-2), 16);
  return Number.isNaN(last) ? 0 : last % count;
}

/** One worker of `serve --workers N`: index 0..count-1. */
export interface SpoolWorker {
  index: number;
  count: number;
}

export interface SpoolWriter {
  readonly queueId: string;
  /** The partial file, readable by end-of-DATA checks before commit. */
  readonly path: string;
  /** May hold the chunk in memory (up to WRITE_BUFFER_BYTES); flush() puts it in the file. */
  write(chunk: Buffer): Promise<void>;
  /** Writes what write() holds, so `path` has every byte so far (before a check reads the file). */
  flush(): Promise<void>;
  /** The whole message while none of it has gone to the file (a small message), else null. */
  peekWhole(): Buffer | null;
  readonly bytesWritten: number;
  /** Drop the partial file (rejected or aborted transaction). */
  discard(): Promise<void>;
  /** Flush and close without committing: the file is handed to the quarantine instead (issue 3). */
  syncAndClose(): Promise<void>;
}

export interface SpoolOptions {
  /**
   * Commit small messages through the journal (journal.ts): the gateway process, whose queue
   * runner delivers what it commits. Off for the CLI, which only writes ordinary queue/ entries.
   */
  journal?: boolean;
}

/** How much a writer holds in memory before it writes to the file. */
const WRITE_BUFFER_BYTES = 64 * 1024;

class FileSpoolWriter implements SpoolWriter {
  readonly queueId: string;
  readonly path: string;
  bytesWritten = 0;
  /** Opened at the first write to disk: a small message committed through the journal never has a file. */
  #handle: FileHandle | null = null;
  /** Chunks not yet in the file: a 1 KB message was three writes (header, blank line, body). */
  #held: Buffer[] = [];
  #heldBytes = 0;
  #flushes = 0;
  /** The whole message when it went to the file in one write (small messages), else null. */
  whole: Buffer | null = null;
  constructor(queueId: string, path: string) {
    this.queueId = queueId;
    this.path = path;
  }
  peekWhole(): Buffer | null {
    if (this.#flushes > 0 || this.#handle) return null;
    if (this.#held.length !== 1) this.#held = [Buffer.concat(this.#held, this.#heldBytes)];
    return this.#held[0];
  }
  /** peekWhole(), and the writer lets go of it (the journal's case). */
  takeHeldWhole(): Buffer | null {
    const data = this.peekWhole();
    if (data) {
      this.#held = [];
      this.#heldBytes = 0;
    }
    return data;
  }
  async write(chunk: Buffer): Promise<void> {
    this.#held.push(chunk);
    this.#heldBytes += chunk.length;
    this.bytesWritten += chunk.length;
    if (this.#heldBytes >= WRITE_BUFFER_BYTES) await this.flush();
  }
  async #file(): Promise<FileHandle> {
    this.#handle ??= await open(this.path, 'wx', 0o600);
    return this.#handle;
  }
  async flush(): Promise<void> {
    const handle = await this.#file();
    if (this.#heldBytes === 0) return;
    const data = this.#held.length === 1 ? this.#held[0] : Buffer.concat(this.#held, this.#heldBytes);
    this.#held = [];
    this.#heldBytes = 0;
    this.whole = ++this.#flushes === 1 ? data : null;
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await handle.write(data, offset, data.length - offset);
      offset += bytesWritten;
    }
  }
  async syncAndClose(): Promise<void> {
    await this.flush();
    const handle = await this.#file();
    await handle.sync();
    await handle.close();
    this.#handle = null;
  }
  async discard(): Promise<void> {
    this.#held = [];
    this.#heldBytes = 0;
    this.whole = null;
    const handle = this.#handle;
    this.#handle = null;
    if (!handle) return;
    await handle.close().catch(() => {});
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
  readonly #worker: SpoolWorker | null;
  /** Envelopes committed by this process and not yet read back by the runner: saves a read. */
  readonly #fresh = new Map<string, string>();
  /**
   * Small messages committed by this process, for their first delivery attempt: saves opening and
   * reading the file (a committed message file never changes). Bounded by FRESH_MESSAGE_BYTES.
   */
  readonly #freshMessages = new Map<string, Buffer>();
  #freshMessageBytes = 0;
  readonly #journal: Journal | null;
  /**
   * Messages committed through the journal and not yet delivered or written out to queue/: the
   * envelope as JSON (each reader gets its own copy to change) and the message bytes. They count
   * against FRESH_MESSAGE_BYTES like #freshMessages.
   */
  readonly #resident = new Map<string, { envelopeText: string; message: Buffer }>();

  constructor(root: string, worker?: SpoolWorker, options: SpoolOptions = {}) {
    this.root = root;
    this.#worker = worker && worker.count > 1 ? worker : null;
    this.tmpDir = this.#worker ? join(root, 'tmp', `w${this.#worker.index + 1}`) : join(root, 'tmp');
    this.queueDir = join(root, 'queue');
    this.wakeupPath = join(root, 'wakeup');
    this.#queueDirSync = new GroupSync(this.queueDir, syncDirectory);
    this.#journal = options.journal ? new Journal(join(root, 'journal', this.#journalName()), syncDirectory) : null;
  }

  /** One journal directory per process: `main`, or `w<k>` for worker k of `serve --workers`. */
  #journalName(): string {
    return this.#worker ? `w${this.#worker.index + 1}` : 'main';
  }

  /** Whether this process delivers the entry (always, unless it is one of several workers). */
  owns(queueId: string): boolean {
    return !this.#worker || ownerSlot(queueId, this.#worker.count) === this.#worker.index;
  }

  /** A new queue id in this process's share. */
  newQueueId(): string {
    return newQueueId(this.#worker ?? undefined);
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

  /**
   * Creates the directories and removes what a crash left half-written, in this process's share
   * only: a sibling worker may be in the middle of a commit.
   */
  async recover(): Promise<string[]> {
    await mkdir(this.tmpDir, { recursive: true });
    await mkdir(this.queueDir, { recursive: true });
    await clearFiles(this.tmpDir);
    await this.#replayJournals();
    const tmpRoot = join(this.root, 'tmp');
    if (!this.#worker || this.#worker.index === 0) {
      // Subdirectories of workers that no longer exist (fewer workers than last time, or one process).
      const count = this.#worker?.count ?? 0;
      for (const name of await readdir(tmpRoot)) {
        const k = /^w(\d+)$/.exec(name);
        if (k && Number(k[1]) > count) await clearFiles(join(tmpRoot, name));
      }
    }
    const names = new Set(await readdir(this.queueDir));
    const committed: string[] = [];
    for (const name of names) {
      if (!name.endsWith('.eml')) continue;
      const id = name.slice(0, -4);
      if (!this.owns(id)) continue;
      if (names.has(`${id}.json`)) committed.push(id);
      else await unlink(join(this.queueDir, name)).catch(() => {});
    }
    for (const name of names) {
      // An envelope whose message is gone cannot be delivered; it only arises from manual deletion.
      if (name.endsWith('.json') && this.owns(name.slice(0, -5)) && !names.has(`${name.slice(0, -5)}.eml`)) await unlink(join(this.queueDir, name)).catch(() => {});
    }
    return committed.sort();
  }

  /**
   * Turns what the journals hold into ordinary queue/ entries, then deletes the segments: this
   * process's own journal, and (in the first or only process) those of worker layouts that no
   * longer exist. An entry already in queue/ was written out before the crash and is newer.
   */
  async #replayJournals(): Promise<void> {
    if (!this.#journal) return;
    const root = join(this.root, 'journal');
    const dirs = [this.#journal.directory];
    if (!this.#worker || this.#worker.index === 0) {
      const current = new Set(this.#worker ? Array.from({ length: this.#worker.count }, (_, k) => `w${k + 1}`) : ['main']);
      for (const name of await readdir(root).catch(() => [] as string[])) if (!current.has(name)) dirs.push(join(root, name));
    }
    let foreign = false;
    for (const dir of dirs) {
      const { segments, live } = await readJournal(dir);
      for (const entry of live) {
        if (await exists(this.envelopePath(entry.queueId))) continue;
        await this.#writeEntry(entry.queueId, entry.message, entry.envelopeText);
        if (!this.owns(entry.queueId)) foreign = true;
      }
      if (live.length > 0) await this.#queueDirSync.sync();
      for (const segment of segments) await unlink(segment).catch(() => {});
    }
    if (foreign) await this.requestRescan();
  }

  /** Writes a complete entry into queue/ the durable way (the caller fsyncs queue/ afterwards). */
  async #writeEntry(queueId: string, message: Buffer, envelopeText: string): Promise<void> {
    const emlTmp = join(this.tmpDir, `${queueId}.eml`);
    await writeDurably(emlTmp, message);
    await rename(emlTmp, this.messagePath(queueId));
    const envTmp = join(this.tmpDir, `${queueId}.json`);
    await writeDurably(envTmp, envelopeText);
    await rename(envTmp, this.envelopePath(queueId));
  }

  async createWriter(queueId: string = this.newQueueId()): Promise<SpoolWriter> {
    return new FileSpoolWriter(queueId, join(this.tmpDir, `${queueId}.eml`));
  }

  /**
   * Makes the message durable. Resolves only after the directory entry is on disk, or with
   * `journal`, after the journal record is (a small message this process will deliver itself).
   */
  async commit(writer: SpoolWriter, envelope: SpoolEnvelope, options: { journal?: boolean } = {}): Promise<void> {
    const w = writer as FileSpoolWriter;
    if (options.journal && this.#journal && this.owns(w.queueId) && this.#freshMessageBytes + w.bytesWritten <= FRESH_MESSAGE_BYTES) {
      const held = w.takeHeldWhole();
      if (held) {
        const envelopeText = JSON.stringify(envelope);
        await this.#journal.append(w.queueId, envelopeText, held);
        // A view into a larger buffer would keep all of it alive: keep a copy of just the message.
        const own = held.byteLength === held.buffer.byteLength ? held : Buffer.from(held);
        this.#resident.set(w.queueId, { envelopeText, message: own });
        this.#freshMessageBytes += own.length;
        return;
      }
    }
    await w.syncAndClose();
    const envTmp = join(this.tmpDir, `${w.queueId}.json`);
    const text = JSON.stringify(envelope);
    await writeDurably(envTmp, text);
    await rename(w.path, this.messagePath(w.queueId));
    await rename(envTmp, this.envelopePath(w.queueId));
    await this.#queueDirSync.sync();
    if (this.#fresh.size < FRESH_LIMIT) this.#fresh.set(w.queueId, text);
    const whole = w.whole;
    if (whole && whole.length === w.bytesWritten && this.#freshMessageBytes + whole.length <= FRESH_MESSAGE_BYTES) {
      // A view into a larger buffer would keep all of it alive: keep a copy of just the message.
      const own = whole.byteLength === whole.buffer.byteLength ? whole : Buffer.from(whole);
      this.#freshMessages.set(w.queueId, own);
      this.#freshMessageBytes += own.length;
    }
  }

  /** The committed message's bytes if this process still holds them (see #freshMessages). */
  freshMessage(queueId: string): Buffer | undefined {
    return this.#resident.get(queueId)?.message ?? this.#freshMessages.get(queueId);
  }

  /** Up to `maxBytes` from the start of the committed message (from memory while it is held). */
  async readMessageStart(queueId: string, maxBytes: number): Promise<Buffer> {
    const held = this.freshMessage(queueId);
    if (held) return held.subarray(0, maxBytes);
    const handle = await open(this.messagePath(queueId), 'r');
    try {
      const buf = Buffer.alloc(maxBytes);
      const { bytesRead } = await handle.read(buf, 0, maxBytes, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  /** Whether the entry is still in the queue (an operator may have deleted it meanwhile). */
  async has(queueId: string): Promise<boolean> {
    return this.#resident.has(queueId) || exists(this.messagePath(queueId));
  }

  /**
   * Writes a journalled message out as an ordinary queue/ entry with this envelope, then lets the
   * journal forget it: for a deferral, and for what is still undelivered at shutdown.
   */
  async #writeOut(queueId: string, envelopeText: string): Promise<void> {
    const held = this.#resident.get(queueId)!;
    await this.#writeEntry(queueId, held.message, envelopeText);
    await this.#queueDirSync.sync();
    this.#dropResident(queueId);
  }

  #dropResident(queueId: string): void {
    const held = this.#resident.get(queueId);
    if (!held) return;
    this.#resident.delete(queueId);
    this.#freshMessageBytes -= held.message.length;
    this.#journal?.release(queueId);
  }

  /** Shutdown: what the journal still holds goes to queue/, where `mxward queue` can see it. */
  async close(): Promise<void> {
    for (const [queueId, held] of [...this.#resident]) await this.#writeOut(queueId, held.envelopeText);
    await this.#journal?.close();
  }

  #dropFreshMessage(queueId: string): void {
    const held = this.#freshMessages.get(queueId);
    if (!held) return;
    this.#freshMessages.delete(queueId);
    this.#freshMessageBytes -= held.length;
  }

  messagePath(queueId: string): string {
    return join(this.queueDir, `${queueId}.eml`);
  }

  envelopePath(queueId: string): string {
    return join(this.queueDir, `${queueId}.json`);
  }

  async readEnvelope(queueId: string): Promise<SpoolEnvelope | null> {
    const resident = this.#resident.get(queueId);
    if (resident) return JSON.parse(resident.envelopeText) as SpoolEnvelope;
    const fresh = this.#fresh.get(queueId);
    if (fresh !== undefined) {
      this.#fresh.delete(queueId);
      // Only this process updates an envelope it owns; the CLI may have deleted the entry, or
      // rewritten it (retry/flush), so the copy is used only while the file is still the one written.
      const still = await stat(this.envelopePath(queueId)).then((s) => s.size === Buffer.byteLength(fresh), () => false);
      if (still) return JSON.parse(fresh) as SpoolEnvelope;
    }
    try {
      return JSON.parse(await readFile(this.envelopePath(queueId), 'utf8')) as SpoolEnvelope;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.#dropFreshMessage(queueId);
        return null;
      }
      throw err;
    }
  }

  /** Per-recipient progress is written the same durable way (tmp, fsync, rename). */
  async updateEnvelope(envelope: SpoolEnvelope): Promise<void> {
    if (this.#resident.has(envelope.queueId)) return this.#writeOut(envelope.queueId, JSON.stringify(envelope));
    this.#fresh.delete(envelope.queueId);
    this.#dropFreshMessage(envelope.queueId); // a later attempt reads the file
    const tmp = join(this.tmpDir, `${envelope.queueId}.json.${randomBytes(3).toString('hex')}`);
    await writeDurably(tmp, JSON.stringify(envelope));
    await rename(tmp, this.envelopePath(envelope.queueId));
  }

  /** Envelope first: once it is gone the entry is no longer committed, whatever happens next. */
  async remove(queueId: string): Promise<void> {
    if (this.#resident.has(queueId)) return this.#dropResident(queueId);
    this.#fresh.delete(queueId);
    this.#dropFreshMessage(queueId);
    await unlink(this.envelopePath(queueId)).catch(() => {});
    await unlink(this.messagePath(queueId)).catch(() => {});
  }

  async listQueueIds(): Promise<string[]> {
    const names = await readdir(this.queueDir);
    return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).sort();
  }
}

/** Envelopes kept for the runner; a long backlog reads the rest from disk as before. */
const FRESH_LIMIT = 10_000;
/** Bytes of committed messages kept for their first attempt; beyond it, messages are read from disk. */
const FRESH_MESSAGE_BYTES = 16 * 1024 * 1024;

async function clearFiles(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) await unlink(join(dir, name)).catch(() => {});
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function writeDurably(path: string, text: string | Buffer): Promise<void> {
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
