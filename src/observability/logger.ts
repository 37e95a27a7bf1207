// The gateway's logger: pino JSON lines on stderr (one object per line, `stage` and `event` on
// every line, DESIGN.md), which journald and any log shipper keep as they are. When stderr is a
// terminal, the same records are printed as short readable lines instead. Never a body or secret:
// callers log addresses, ids and replies only.
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger, LevelWithSilent } from 'pino';
import { bufferedStderr } from './log-destination.ts';

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'service', 'msg', 'stage', 'event']);

/** One JSON log line as a person reads it: `12:00:01 INFO smtp/refused 550 5.7.68 … key=value`. */
export function formatReadable(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = new Date(Number(record.time)).toISOString().slice(11, 19);
  const level = LEVEL_NAMES[Number(record.level)] ?? String(record.level);
  const what = [record.stage, record.event].filter(Boolean).join('/');
  const fields = Object.entries(record)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${time} ${level.padEnd(5)} ${what}${record.msg ? ` ${String(record.msg)}` : ''}${fields.length ? `  ${fields.join(' ')}` : ''}`;
}

function readableStream(out: NodeJS.WritableStream): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      if (lines.length > 0) out.write(`${lines.map(formatReadable).join('\n')}\n`);
      done();
    },
  });
}

export interface LoggerOptions {
  level: LevelWithSilent;
  worker?: { index: number };
  /** `json` always, `readable` always, or `auto`: readable when stderr is a terminal. */
  format?: 'json' | 'readable' | 'auto';
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

export function createGatewayLogger(options: LoggerOptions): Logger {
  const base = options.worker ? { service: 'mxward', worker: options.worker.index + 1, pid: process.pid } : { service: 'mxward' };
  const stderr = options.stderr ?? process.stderr;
  const format = options.format ?? 'auto';
  const readable = format === 'readable' || (format === 'auto' && stderr.isTTY === true);
  if (readable) return pino({ level: options.level, base }, readableStream(stderr));
  // The process's own stderr gets batched writes (log-destination.ts); a stream a caller passed
  // in (tests) gets each line as it is logged.
  return pino({ level: options.level, base }, stderr === process.stderr ? bufferedStderr() : stderr);
}
