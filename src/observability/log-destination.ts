// Where the gateway's JSON lines go when stderr is not a terminal: fd 2 through sonic-boom, in
// batches. With one write(2) per line (minLength 0) every refused transaction paid its own write,
// handed to a libuv pool thread and back: about one context switch and a tenth of the CPU of a
// refusal (docs/performance.md, "Reject path"). Batched, a few kilobytes of lines share a write.
//
// Decided trade-off: lines wait in memory until LOG_BUFFER_BYTES have gathered or LOG_FLUSH_MS
// have passed since the first of them. A normal exit, SIGTERM (serve stops, then exits) and a
// crash (an uncaught exception still runs 'exit' handlers) write them out: pino registers a
// synchronous flush on 'exit' for the destinations it builds. Only SIGKILL or a power loss can
// lose them, at most a few kilobytes or LOG_FLUSH_MS of lines; the trace in the store is the
// record of each transaction, the log is its announcement.
import pino from 'pino';
import type { DestinationStream } from 'pino';

/** Lines are written once this many characters have gathered. */
export const LOG_BUFFER_BYTES = 4096;
/** A line waits at most about this long when fewer have gathered (a quiet gateway). */
export const LOG_FLUSH_MS = 100;

export interface BufferedDestination extends DestinationStream {
  /** Starts writing what is buffered (asynchronously); pending lines otherwise wait for the timer. */
  flush(): void;
}

export function bufferedStderr(fd = 2, flushMs = LOG_FLUSH_MS): BufferedDestination {
  const dest = pino.destination({ dest: fd, sync: false, minLength: LOG_BUFFER_BYTES });
  let timer: NodeJS.Timeout | null = null;
  let writtenSinceTick = false;
  // A timer only while lines arrive: an idle gateway makes no write and no wakeup. A flush asked
  // for while an earlier batch is still being written does nothing in sonic-boom, so the timer
  // ticks once more after the last line: by then that write has finished and the rest goes out.
  const tick = () => {
    timer = null;
    flushQuietly();
    if (writtenSinceTick) {
      writtenSinceTick = false;
      arm();
    }
  };
  // pino ends the destination at exit; a timer that fires after that has nothing left to write.
  const flushQuietly = () => {
    try {
      dest.flush();
    } catch { /* destroyed at exit, after its own final flush */ }
  };
  const arm = () => {
    timer = setTimeout(tick, flushMs);
    timer.unref();
  };
  return {
    write(line: string) {
      const ok = dest.write(line);
      writtenSinceTick = true;
      if (!timer) arm();
      return ok;
    },
    flush: flushQuietly,
  };
}
