// mxward policy export|import|merge|history|rollback: the whole organization policy as one YAML
// document, for review, version control and moving between installs (issue 12: nothing is
// removed unless asked). Thin: parse -> src/services/policy-document.ts -> print.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseYamlWithSchema } from '../../config/yaml-source.ts';
import { policySchema } from '../../config/policy-schema.ts';
import { formatDiff } from '../../services/policy-diff.ts';
import { exportPolicy, importPolicyDocument, mergePolicyFragment, policyFragmentSchema, policyHistory, rollbackPolicy } from '../../services/policy-document.ts';
import type { PolicyChangeResult } from '../../services/policy-document.ts';
import type { CliIo } from '../io.ts';
import { actorOf, openStore, parseCommand, printJson, printTable, requirePositional, UsageError } from '../io.ts';

export const policyHelp = `Usage: mxward policy export [--output FILE]
       mxward policy import FILE [--dry-run] [--replace]
       mxward policy merge FILE [--dry-run]
       mxward policy history [--limit N]
       mxward policy rollback VERSION [--dry-run]

export   writes the policy (switches, accepted domains, connectors) as YAML to stdout or FILE.
import   replaces the policy with FILE after validating it; errors name the line and field.
         Refused when FILE would remove accepted domains or connectors, unless --replace.
merge    adds the connectors and accepted domains in FILE (e.g. the YAML of mxward report)
         to the current policy; never changes or removes anything.
history  lists the policy versions recorded in the audit log, newest first.
rollback writes VERSION again as the newest version (audited).
--dry-run prints what would change (+ added, - removed, ~ changed) and writes nothing.
Use "-" as FILE to read stdin. Exit code 0: done (or dry run); 2: invalid file or refused.
`;

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function readInput(file: string, io: CliIo): Promise<{ text: string; name: string }> {
  try {
    return { text: file === '-' ? await readAll(io.stdin) : readFileSync(file, 'utf8'), name: file === '-' ? '(stdin)' : file };
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** Prints a change result; the exit code. */
function report(result: PolicyChangeResult, verb: string, io: CliIo, json: boolean | undefined): number {
  if (json) printJson(io, result);
  else if (result.kind === 'refused') {
    io.stderr.write(`mxward policy ${verb}: refused: ${result.reason}\nChanges the file asks for (against version ${result.version}):\n${formatDiff(result.diff).join('\n')}\n`);
  } else if (result.kind === 'dry-run') {
    io.stdout.write(`policy ${verb} --dry-run against version ${result.version} (nothing written):\n${formatDiff(result.diff).join('\n')}\n`);
    if (result.refusal) io.stdout.write(`without --dry-run this would be refused: ${result.refusal}\n`);
  } else if (result.kind === 'unchanged') {
    io.stdout.write(`policy ${verb}: nothing to change (version ${result.version} already has it)\n`);
  } else {
    io.stdout.write(`policy ${verb}: version ${result.previousVersion} -> ${result.version}\n${formatDiff(result.diff).join('\n')}\n`);
  }
  return result.kind === 'refused' ? 2 : 0;
}

export async function runPolicy(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    output: { type: 'string', short: 'o' }, 'dry-run': { type: 'boolean' }, replace: { type: 'boolean' }, limit: { type: 'string' },
  });
  const sub = positionals[0];
  if (values.help || !sub) { io.stdout.write(policyHelp); return values.help ? 0 : 2; }
  if (!['export', 'import', 'merge', 'history', 'rollback'].includes(sub)) throw new UsageError(`policy: unknown subcommand ${JSON.stringify(sub)}`);
  // Files are read and validated before the store is opened: a bad file changes nothing.
  let input: { text: string; name: string } | null = null;
  if (sub === 'import' || sub === 'merge') input = await readInput(requirePositional(positionals, 1, 'FILE'), io);
  const imported = sub === 'import' && input ? parseYamlWithSchema(input.text, policySchema, input.name) : null;
  const fragment = sub === 'merge' && input ? parseYamlWithSchema(input.text, policyFragmentSchema, input.name) : null;
  const target = sub === 'rollback' ? Number(requirePositional(positionals, 1, 'VERSION')) : null;
  if (target !== null && (!Number.isInteger(target) || target < 1)) throw new UsageError(`policy rollback: VERSION must be a positive whole number, got ${JSON.stringify(positionals[1])}`);
  const limit = Number(values.limit ?? 20);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit: expected a positive whole number');
  const opts = { actor: actorOf(values.actor, io.env), dryRun: values['dry-run'] === true };
  const store = openStore(values, io.env);
  try {
    if (imported) return report(await importPolicyDocument(store, imported, { ...opts, replace: values.replace === true }), 'import', io, values.json);
    if (fragment) return report(await mergePolicyFragment(store, fragment, opts), 'merge', io, values.json);
    if (target !== null) {
      const result = await rollbackPolicy(store, target, opts);
      if (result.kind === 'unknown-version') { io.stderr.write(`mxward policy rollback: ${result.reason}\n`); return 2; }
      return report(result, `rollback to version ${target}`, io, values.json);
    }
    if (sub === 'history') {
      const versions = await policyHistory(store, limit);
      if (values.json) printJson(io, versions);
      else printTable(io, ['version', 'time', 'actor', 'action', 'domains', 'connectors'], versions.map((v) => [
        String(v.version), v.time, v.actor, v.action, String(v.document.acceptedDomains.length), String(v.document.connectors.length)]));
      return 0;
    }
    const { yaml } = await exportPolicy(store);
    if (values.output) writeFileSync(values.output, yaml);
    else io.stdout.write(yaml);
    return 0;
  } finally {
    await store.close();
  }
}
