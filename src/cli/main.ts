// The mxward command line: one table of subcommands, each a thin module under commands/ that
// parses its flags and calls the core. Every failure a user can cause ends here as one line on
// stderr and a non-zero exit code, never a stack trace.
import type { CliIo } from './io.ts';
import { UsageError } from './io.ts';
import { ConfigError } from '../config/errors.ts';

type Runner = (argv: string[], io: CliIo) => Promise<number>;

interface CommandEntry {
  summary: string;
  load: () => Promise<Runner>;
}

// Commands load lazily so `mxward trace` does not pay for the SMTP server's imports.
const commands: Record<string, CommandEntry> = {
  serve: { summary: 'run the SMTP gateway', load: async () => (await import('./commands/serve.ts')).runServe },
  init: { summary: 'create the data directory and store before the first serve', load: async () => (await import('./commands/init.ts')).runInit },
  org: { summary: 'organization switches (Reject Direct Send)', load: async () => (await import('./commands/org.ts')).runOrg },
  domain: { summary: 'accepted domains', load: async () => (await import('./commands/domain.ts')).runDomain },
  connector: { summary: 'inbound connectors (partner, on-premises)', load: async () => (await import('./commands/connector.ts')).runConnector },
  policy: { summary: 'export or import the whole policy as YAML', load: async () => (await import('./commands/policy.ts')).runPolicy },
  user: { summary: 'SMTP AUTH users for the submission listener', load: async () => (await import('./commands/user.ts')).runUser },
  trace: { summary: 'message trace, including rejections', load: async () => (await import('./commands/trace.ts')).runTrace },
  queue: { summary: 'the delivery queue: list, show, retry, delete, flush', load: async () => (await import('./commands/queue.ts')).runQueue },
  report: { summary: 'Direct Send traffic report from EXO exports, messages or the trace', load: async () => (await import('./commands/report.ts')).runReport },
  analyze: { summary: 'explain one message: attribution, Direct Send, compauth', load: async () => (await import('./commands/analyze.ts')).runAnalyze },
  audit: { summary: 'audit EXO exports and mxward policy (CIS Reject Direct Send)', load: async () => (await import('./commands/audit.ts')).runAudit },
  quarantine: { summary: 'quarantined messages: list, show, release, request-release, approve, deny, delete', load: async () => (await import('./commands/quarantine.ts')).runQuarantine },
  policyd: { summary: 'Postfix policy service (check_policy_service): the RCPT-stage decisions', load: async () => (await import('./commands/policyd.ts')).runPolicyd },
  milter: { summary: 'Postfix milter (smtpd_milters): the end-of-DATA checks, stamps and hold', load: async () => (await import('./commands/milter.ts')).runMilter },
  nodes: { summary: 'gateway nodes sharing the store: policy version in force, heartbeat, queue', load: async () => (await import('./commands/nodes.ts')).runNodes },
  console: { summary: 'web console and API identities: accounts, API tokens, recipient links', load: async () => (await import('./commands/console.ts')).runConsole },
  // further commands register here
};

export function mainHelp(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: mxward COMMAND [options]\n\nCommands:\n${lines.join('\n')}\n\nEvery command takes --help, --config FILE (or MXWARD_CONFIG), --data-dir DIR (or MXWARD_DATA_DIR),\n--store-url postgres://… (or MXWARD_STORE_URL; unset = SQLite in the data directory) and, where it\nprints, --json. The store is found by flag, then environment, then the config file, then ./.mxward;\nonly serve and init create one.\n`;
}

/** Exit codes: 0 ok, 1 failure at run time, 2 usage or configuration error. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(mainHelp());
    return name ? 0 : 2;
  }
  if (name === '--version') {
    io.stdout.write('mxward 0.1.0\n');
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    io.stderr.write(`mxward: unknown command ${JSON.stringify(name)}; run "mxward --help"\n`);
    return 2;
  }
  try {
    const run = await entry.load();
    return await run(rest, io);
  } catch (err) {
    return reportFailure(name, err, io);
  }
}

export function reportFailure(command: string, err: unknown, io: CliIo): number {
  if (err instanceof UsageError) {
    io.stderr.write(`mxward ${command}: ${err.message}\n`);
    return 2;
  }
  if (err instanceof ConfigError) {
    io.stderr.write(`mxward ${command}: ${err.message}\n`);
    return 2;
  }
  const e = err as NodeJS.ErrnoException;
  const message = e?.code ? `${e.message}` : String(e?.message ?? err);
  io.stderr.write(`mxward ${command}: ${message}\n`);
  if (io.env.MXWARD_DEBUG) io.stderr.write(`${e?.stack ?? ''}\n`);
  return 1;
}
