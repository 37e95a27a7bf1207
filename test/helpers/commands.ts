// Running real client programs (swaks, python3, openssl, the mxward CLI) from tests.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const mxwardBin = fileURLToPath(new URL('../../bin/mxward.js', import.meta.url));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** True when `name` is on PATH; tests that need it skip with a message otherwise. */
export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

export function run(cmd: string, args: string[], options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', rejectRun);
    child.on('close', (code) => { clearTimeout(timer); resolveRun({ code, stdout, stderr }); });
    child.stdin.end(options.input ?? '');
  });
}

/** The mxward CLI as a user runs it, against a given data directory. */
export function mxward(dataDir: string, args: string[], input?: string): Promise<RunResult> {
  return run(process.execPath, [mxwardBin, ...args, '--data-dir', dataDir], { input });
}
