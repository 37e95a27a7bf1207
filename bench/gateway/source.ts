// The load: Postfix's smtp-source, one connection per message (no -d), N sessions in parallel.
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
}

export function runSource(r: SourceRun): Promise<SourceResult> {
  const args = ['-A', '-s', String(r.sessions), '-m', String(r.messages), '-l', String(r.sizeBytes),
    '-M', 'source.bench.test', '-f', r.from, '-t', r.to, `127.0.0.1:${r.port}`];
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('smtp-source', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let rejects = 0;
    let others = 0;
    const problems: string[] = [];
    let pending = '';
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, r.timeoutMs);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      const lines = (pending + text).split('\n');
      pending = lines.pop()!;
      for (const line of lines) count(line);
    });
    const count = (line: string) => {
      if (!line.trim()) return;
      if (/rejected: 550 5\.7\.68 /.test(line)) rejects += 1;
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
      resolve({ elapsedMs, directSendRejects: rejects, otherProblems: problems, otherProblemCount: others, timedOut });
    });
  });
}
