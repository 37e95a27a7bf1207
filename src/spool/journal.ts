// The commit journal: a group commit for small messages (issue 6). Instead of two files and three
// fsyncs per message, every message that reaches its commit while a journal write is running
// waits for the next one, and that one appends all of them to a segment file with one write and
// one fdatasync. The 250 is sent only after the fdatasync that covers the message's record, so
// the promise of SPEC §2.6 ("250 only once the message is on disk") holds as before.
//
// A journalled message is delivered from memory. When it is delivered, a `done` record is
// appended (no fsync: losing it can only cause a duplicate after a crash, never a loss). When its
// first attempt does not finish it (a deferral), the spool writes it out as an ordinary queue/
// entry first and then releases it here (spool.ts). Segment files are deleted oldest first, once
// a segment is no longer the one being written and none of its messages is live: a `done` record
// refers to a message in its own segment or an older one, so it is never deleted before them. After a crash, recovery reads
// the segments back (readJournal) and turns every message without a `done` record into an
// ordinary queue/ entry.
//
// Record: 16-byte header, then the queue id (ASCII), the envelope (JSON, UTF-8), the message.
//   u8 kind (1 message, 2 done) | u8 id length | u16 zero | u32 envelope length |
//   u32 message length | u32 CRC-32 of header bytes 0-11 and everything after the header
// A torn tail (a crash in the middle of a write that was never acknowledged) fails its length or
// CRC check; reading stops there.
import { mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

const HEADER_BYTES = 16;
const KIND_MESSAGE = 1;
const KIND_DONE = 2;
/** A new segment is started once the current one is this large, so old ones can be deleted. */
const DEFAULT_SEGMENT_BYTES = 32 * 1024 * 1024;
/** How long `done` records wait for a message write to go out with before they are written alone. */
const DONE_DELAY_MS = 20;

export interface JournalEntry {
  queueId: string;
  envelopeText: string;
  message: Buffer;
}

/**
 * A record as the buffers to write: header, queue id and envelope in one, then the message itself,
 * not copied (at 50 KB a copy of every message was measurable); the CRC runs over both in turn.
 */
function encodeRecord(kind: number, queueId: string, envelopeText: string, message: Buffer | null): Buffer[] {
  const idLength = Buffer.byteLength(queueId, 'latin1');
  const envLength = Buffer.byteLength(envelopeText, 'utf8');
  const msgLength = message?.length ?? 0;
  const head = Buffer.allocUnsafe(HEADER_BYTES + idLength + envLength);
  head.writeUInt8(kind, 0);
  head.writeUInt8(idLength, 1);
  head.writeUInt16LE(0, 2);
  head.writeUInt32LE(envLength, 4);
  head.writeUInt32LE(msgLength, 8);
  head.write(queueId, HEADER_BYTES, 'latin1');
  head.write(envelopeText, HEADER_BYTES + idLength, 'utf8');
  let crc = crc32(head.subarray(HEADER_BYTES), crc32(head.subarray(0, 12)));
  if (message && msgLength > 0) crc = crc32(message, crc);
  head.writeUInt32LE(crc, 12);
  return message && msgLength > 0 ? [head, message] : [head];
}

/** Every complete record of one segment, in order; stops at the first torn or corrupt one. */
export function decodeSegment(data: Buffer): { messages: JournalEntry[]; done: string[] } {
  const messages: JournalEntry[] = [];
  const done: string[] = [];
  let at = 0;
  while (at + HEADER_BYTES <= data.length) {
    const kind = data.readUInt8(at);
    const idLength = data.readUInt8(at + 1);
    const envLength = data.readUInt32LE(at + 4);
    const msgLength = data.readUInt32LE(at + 8);
    const end = at + HEADER_BYTES + idLength + envLength + msgLength;
    if ((kind !== KIND_MESSAGE && kind !== KIND_DONE) || idLength === 0 || end > data.length) break;
    const crc = crc32(data.subarray(at + HEADER_BYTES, end), crc32(data.subarray(at, at + 12)));
    if (crc !== data.readUInt32LE(at + 12)) break;
    const idStart = at + HEADER_BYTES;
    const queueId = data.toString('latin1', idStart, idStart + idLength);
    if (kind === KIND_DONE) done.push(queueId);
    else {
      const envStart = idStart + idLength;
      messages.push({
        queueId,
        envelopeText: data.toString('utf8', envStart, envStart + envLength),
        message: Buffer.from(data.subarray(envStart + envLength, end)),
      });
    }
    at = end;
  }
  return { messages, done };
}

/** The segments in `dir`, oldest first, and the messages in them that were never marked done. */
export async function readJournal(dir: string): Promise<{ segments: string[]; live: JournalEntry[] }> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.log')).sort();
  const byId = new Map<string, JournalEntry>();
  const done = new Set<string>();
  for (const name of names) {
    const segment = decodeSegment(await readFile(join(dir, name)));
    for (const m of segment.messages) byId.set(m.queueId, m);
    for (const id of segment.done) done.add(id);
  }
  return { segments: names.map((n) => join(dir, n)), live: [...byId.values()].filter((m) => !done.has(m.queueId)) };
}

interface Segment {
  path: string;
  handle: FileHandle;
  bytes: number;
  /** Messages recorded here and not yet released. */
  live: number;
  sealed: boolean;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export class Journal {
  readonly #dir: string;
  readonly #segmentBytes: number;
  readonly #syncDir: (dir: string) => Promise<void>;
  #current: Segment | null = null;
  #sequence = 0;
  /** Records not yet written (each one or two buffers), and for each message record its queue id. */
  #pending: Buffer[][] = [];
  #pendingIds: string[] = [];
  /** A round is waiting to write `done` records that no message came to carry. */
  #doneTimer: NodeJS.Timeout | null = null;
  #waiters: Waiter[] = [];
  #writing: Promise<void> | null = null;
  readonly #segmentOf = new Map<string, Segment>();
  /** Every segment file that exists, oldest first. */
  readonly #segments: Segment[] = [];
  #closed = false;

  constructor(dir: string, syncDir: (dir: string) => Promise<void>, options: { segmentBytes?: number } = {}) {
    this.#dir = dir;
    this.#syncDir = syncDir;
    this.#segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  }

  get directory(): string {
    return this.#dir;
  }

  /** Resolves once the message's record is written and fdatasynced (with whatever came along). */
  append(queueId: string, envelopeText: string, message: Buffer): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('journal closed'));
    const record = encodeRecord(KIND_MESSAGE, queueId, envelopeText, message);
    return new Promise<void>((resolve, reject) => {
      this.#pending.push(record);
      this.#pendingIds.push(queueId);
      this.#waiters.push({ resolve, reject });
      this.#kick();
    });
  }

  /** The message is delivered, or is now an ordinary queue/ entry: the journal no longer needs it. */
  release(queueId: string): void {
    const segment = this.#segmentOf.get(queueId);
    if (!segment) return;
    this.#segmentOf.delete(queueId);
    segment.live -= 1;
    if (!this.#closed) {
      // Not a write of its own: it goes out with the next message's write (with one session that
      // saved a hand-off to the thread pool per message), or after DONE_DELAY_MS without one.
      // Until it is written a crash can only deliver the message again, never lose it.
      this.#pending.push(encodeRecord(KIND_DONE, queueId, '', null));
      this.#pendingIds.push('');
      this.#armDoneTimer();
    }
    this.#dropFinished();
  }

  /** Writes what is pending and closes the segment file; live messages stay in it for recovery. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#doneTimer) { clearTimeout(this.#doneTimer); this.#doneTimer = null; }
    while (this.#writing || this.#pending.length > 0) {
      this.#kick(true);
      await this.#writing;
    }
    const current = this.#current;
    this.#current = null;
    if (current) {
      current.sealed = true;
      await current.handle.close().catch(() => {});
    }
    await Promise.all(this.#dropFinished());
  }

  #armDoneTimer(): void {
    if (this.#doneTimer || this.#closed) return;
    this.#doneTimer = setTimeout(() => {
      this.#doneTimer = null;
      this.#kick(true);
      if (this.#writing === null && this.#pending.length > 0) this.#armDoneTimer();
    }, DONE_DELAY_MS);
    this.#doneTimer.unref();
  }

  /** Starts a round for waiting messages, or with `withDone` for `done` records alone. */
  #kick(withDone = false): void {
    if (this.#writing || this.#pending.length === 0 || (this.#waiters.length === 0 && !withDone)) return;
    if (this.#doneTimer) { clearTimeout(this.#doneTimer); this.#doneTimer = null; }
    this.#writing = this.#writeRounds().finally(() => {
      this.#writing = null;
      this.#kick();
      if (this.#writing === null && this.#pending.length > 0) this.#armDoneTimer();
    });
  }

  async #writeRounds(): Promise<void> {
    // The first round takes whatever is pending; another follows only for messages that arrived
    // meanwhile (their `done` companions ride along).
    for (let first = true; this.#pending.length > 0 && (first || this.#waiters.length > 0); first = false) {
      const records = this.#pending;
      const ids = this.#pendingIds;
      const waiters = this.#waiters;
      this.#pending = [];
      this.#pendingIds = [];
      this.#waiters = [];
      try {
        const segment = await this.#segmentFor();
        const buffers = records.flat();
        let bytes = 0;
        for (const b of buffers) bytes += b.length;
        await writeAll(segment.handle, buffers, bytes);
        segment.bytes += bytes;
        for (const id of ids) {
          if (id === '') continue;
          this.#segmentOf.set(id, segment);
          segment.live += 1;
        }
        // Only `done` records in this round: nobody waits, and they need not be durable.
        if (waiters.length > 0) await segment.handle.datasync();
        for (const w of waiters) w.resolve();
      } catch (err) {
        // Nothing in this round was acknowledged. Its records may be in the file all the same, so
        // a restart could deliver them (a duplicate of what the client sends again, never a loss);
        // the segment is retired and the next round starts a new one.
        for (const id of ids) {
          const segment = this.#segmentOf.get(id);
          if (segment) { this.#segmentOf.delete(id); segment.live -= 1; }
        }
        if (this.#current) this.#retire(this.#current);
        for (const w of waiters) w.reject(err);
      }
    }
  }

  async #segmentFor(): Promise<Segment> {
    const current = this.#current;
    if (current && current.bytes < this.#segmentBytes) return current;
    if (current) this.#retire(current);
    await mkdir(this.#dir, { recursive: true });
    const path = join(this.#dir, `${Date.now().toString(36).padStart(10, '0')}-${String(this.#sequence++).padStart(6, '0')}.log`);
    const handle = await open(path, 'wx', 0o600);
    // The new file's directory entry must be on disk before any record in it counts as durable.
    await this.#syncDir(this.#dir);
    const segment: Segment = { path, handle, bytes: 0, live: 0, sealed: false };
    this.#current = segment;
    this.#segments.push(segment);
    return segment;
  }

  #retire(segment: Segment): void {
    if (this.#current === segment) this.#current = null;
    segment.sealed = true;
    segment.handle.close().catch(() => {});
    this.#dropFinished();
  }

  /** Deletes finished segments from the oldest on; returns the deletions for close() to await. */
  #dropFinished(): Promise<void>[] {
    const deletions: Promise<void>[] = [];
    while (this.#segments.length > 0 && this.#segments[0].sealed && this.#segments[0].live === 0) {
      deletions.push(unlink(this.#segments.shift()!.path).catch(() => {}));
    }
    return deletions;
  }
}

async function writeAll(handle: FileHandle, records: Buffer[], total: number): Promise<void> {
  let { bytesWritten } = await handle.writev(records);
  if (bytesWritten === total) return;
  // A short write (rare: a signal, a nearly full disk): write the rest from one buffer.
  const all = Buffer.concat(records, total);
  while (bytesWritten < total) {
    const r = await handle.write(all, bytesWritten, total - bytesWritten);
    if (r.bytesWritten === 0) throw new Error('journal write made no progress');
    bytesWritten += r.bytesWritten;
  }
}
