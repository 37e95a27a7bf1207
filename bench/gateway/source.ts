// The load: Postfix's smtp-source, one connection per message (no -d), N sessions in parallel.
// Its own CPU is measured too (see WITH_TIMES).
// With -A it carries on after a refusal and prints one warning per refused transaction, which is
// how the driver counts the 550 5.7.68 replies each gateway gave.
import { spawn } from 'node:child_process';

export interface SourceRun {
  sessions: number;
  messages: number;
  sizeBytes: number;
  from: string;
  to: string;
  port: number;
  /** Kill smtp-source after this long (a stuck gateway must not stall the whole bench). */
  timeoutMs: number;
}

export interface SourceResult {
  elapsedMs: number;
  /** Transactions refused with 550 5.7.68. */
  directSendRejects: number;
  /** Any other warning or error smtp-source printed (first few kept for the report). */
  otherProblems: string[];
  otherProblemCount: number;
  timedOut: boolean;
  /** CPU seconds (user + system) smtp-source itself used: the load generator shares the cores. */
  cpuSeconds: number;
}

// smtp-source runs under bash, whose `times` then reports its child's CPU (Node has no rusage for
// a child process); the line goes to stderr after smtp-source's own lines. A SIGTERM to bash (the
// turn's time limit) kills smtp-source, which runs in the background so that `wait` can be cut short.
const WITH_TIMES = 'smtp-source "$@" & pid=$!; trap \'kill -9 $pid\' TERM; wait $pid; rc=$?; times >&2; exit $rc';
const TIMES_LINE = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/;

export function runSource(r: SourceRun): Promise<SourceResult> {
  const args = ['-A', '-s', String(r.sessions), '-m', String(r.messages), '-l', String(r.sizeBytes),
    '-M', 'source.bench.test', '-f', r.from, '-t', r.to, `127.0.0.1:${r.port}`];
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('bash', ['-c', WITH_TIMES, 'smtp-source', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let rejects = 0;
    let cpuSeconds = 0;
    let others = 0;
    const problems: string[] = [];
    let pending = '';
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGTERM'); }, r.timeoutMs);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      const lines = (pending + text).split('\n');
      pending = lines.pop()!;
      for (const line of lines) count(line);
    });
    const count = (line: string) => {
      if (!line.trim()) return;
      const times = TIMES_LINE.exec(line.trim());
      // `times` prints the shell's own line first, then its children's: the last one counts.
      if (times) cpuSeconds = Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4]);
      else if (/rejected: 550 5\.7\.68 /.test(line)) rejects += 1;
      else {
        others += 1;
        if (problems.length < 5) problems.push(line.trim());
      }
    };
    child.once('error', reject);
    child.once('close', () => {
      clearTimeout(timer);
      count(pending);
      const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
      resolve({ elapsedMs, directSendRejects: rejects, otherProblems: problems, otherProblemCount: others, timedOut, cpuSeconds });
    });
  });
}
