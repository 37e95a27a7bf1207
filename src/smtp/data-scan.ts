// The end-of-DATA scan of smtp-server, with the per-byte loop replaced by Buffer.indexOf.
//
// smtp-server's SMTPStream._feedDataStream looks at every byte of a message in a JavaScript loop
// for a dot at the start of a line (the end-of-data marker `CRLF . CRLF`, or a stuffed dot to
// remove). At 50 KB that loop was 4.8 % of the gateway's time in `bench/profile.ts accept --size
// 51200`. The only positions it acts on are those right after an LF, so memchr can find them.
// installFastDataScan() puts feedDataStream() below into SMTPStream in place of the library's
// method: it is the library's own body (smtp-server 3.21.6) with the loop replaced and nothing
// else changed, including its handling of a terminator split across chunks and of a message
// that starts with the terminator (the SMTP smuggling fixes). test/smtp/data-scan.test.ts feeds
// random messages in random chunking to both and compares every byte, every end of data and
// what follows it, so an upgrade of the library that changes the method fails there.
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

type Callback = (err?: Error | null) => void;

const LF_DOT = Buffer.from('\n.');
const END_SEQUENCE = Buffer.from('\r\n.\r\n');
const TERMINATOR_AT_START = Buffer.from('.\r\n');

/** SMTPStream.prototype._feedDataStream with the scan for `LF .` done by indexOf. */
function feedDataStream(this: SMTPStream, chunk: Buffer, done: Callback): void {
  const dataStream = this._dataStream!;
  if (this._lastBytes && this._lastBytes.length) {
    chunk = Buffer.concat([this._lastBytes, chunk], this._lastBytes.length + chunk.length);
    this._lastBytes = false;
  }
  let len = chunk.length;
  // A message that starts with the terminator (see the library's comment on _atDataStart).
  if (this._atDataStart && len >= 3 && Buffer.compare(chunk.subarray(0, 3), TERMINATOR_AT_START) === 0) {
    this._endDataMode(false, chunk.subarray(3), done);
    return;
  }
  if (this._atDataStart && len >= 2 && chunk[0] === 0x2e && chunk[1] === 0x2e) {
    chunk = chunk.subarray(1);
    len--;
    this._atDataStart = false;
  }
  // The library's loop visits i = 2 .. len - 3 and acts where chunk[i - 1] is LF and chunk[i] a
  // dot: the same positions are the `LF .` pairs starting at 1 .. len - 4.
  for (let lf = chunk.indexOf(LF_DOT, 1); lf !== -1 && lf + 1 < len - 2; lf = chunk.indexOf(LF_DOT, lf + 1)) {
    const i = lf + 1;
    if (Buffer.compare(chunk.subarray(i - 2, i + 3), END_SEQUENCE) === 0) {
      const buf = chunk.subarray(0, i);
      this._countDataBytes(buf.length);
      this._endDataMode(buf, chunk.subarray(i + 3), done);
      return;
    }
    if (chunk[i + 1] === 0x2e) {
      const buf = chunk.subarray(0, i);
      this._lastBytes = false;
      this._countDataBytes(buf.length);
      if (dataStream.writable) dataStream.write(buf);
      const rest = chunk.subarray(i + 1);
      setImmediate(() => this._feedDataStream(rest, done));
      return;
    }
  }
  this._lastBytes = chunk.length < 4 ? chunk : chunk.subarray(chunk.length - 4);
  if (this._lastBytes.length < chunk.length) {
    const buf = chunk.subarray(0, chunk.length - this._lastBytes.length);
    this._countDataBytes(buf.length);
    if (dataStream.writable) {
      const handled = dataStream.write(buf);
      if (!handled && !dataStream.destroyed) {
        const onDrain = () => {
          dataStream.removeListener('drain', onDrain);
          dataStream.removeListener('close', onDrain);
          done();
        };
        dataStream.once('drain', onDrain);
        dataStream.once('close', onDrain);
      } else {
        done();
      }
    } else {
      done();
    }
  } else {
    done();
  }
}

/** The library's own method, kept for the comparison test. */
export const libraryFeedDataStream = SMTPStream.prototype._feedDataStream;

let installed = false;

/** Puts feedDataStream into SMTPStream (once per process). */
export function installFastDataScan(): void {
  if (installed) return;
  installed = true;
  SMTPStream.prototype._feedDataStream = feedDataStream;
}
