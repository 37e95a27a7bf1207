// mxward policy export|import: the whole organization policy as one YAML document, for review,
// version control and moving between installs. Import validates everything before writing.
import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { parseYamlWithSchema } from '../../config/yaml-source.ts';
import { policySchema } from '../../config/policy-schema.ts';
import type { PolicyDocument } from '../../config/policy-schema.ts';
import type { CliIo } from '../io.ts';
import { actorOf, openStore, parseCommand, requirePositional, UsageError } from '../io.ts';

export const policyHelp = `Usage: mxward policy export [--output FILE]
       mxward policy import FILE [--dry-run]

export writes the policy (switches, accepted domains, connectors) as YAML to stdout or FILE.
import replaces the whole policy with FILE after validating it; errors name the line and field.
Use "-" as FILE to read stdin.
`;

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function runPolicy(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, { output: { type: 'string', short: 'o' }, 'dry-run': { type: 'boolean' } });
  const sub = positionals[0];
  if (values.help || !sub) { io.stdout.write(policyHelp); return values.help ? 0 : 2; }
  if (sub !== 'export' && sub !== 'import') throw new UsageError(`policy: unknown subcommand ${JSON.stringify(sub)}`);
  let imported: PolicyDocument | null = null;
  if (sub === 'import') {
    const file = requirePositional(positionals, 1, 'FILE');
    let text: string;
    try {
      text = file === '-' ? await readAll(io.stdin) : readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    imported = parseYamlWithSchema(text, policySchema, file === '-' ? '(stdin)' : file);
  }
  const store = openStore(values['data-dir'], io.env, values['store-url']);
  try {
    if (imported === null) {
      const { document, version } = await store.readPolicy();
      const text = `# mxward policy, version ${version}\n${stringify(document)}`;
      if (values.output) writeFileSync(values.output, text);
      else io.stdout.write(text);
      return 0;
    }
    if (values['dry-run']) {
      io.stdout.write(`policy is valid: ${imported.acceptedDomains.length} accepted domains, ${imported.connectors.length} connectors (not written)\n`);
      return 0;
    }
    const saved = await store.writePolicy(imported, actorOf(values.actor, io.env), 'policy.import');
    io.stdout.write(values.json ? `${JSON.stringify({ imported: true, version: saved.version })}\n` : `imported policy (version ${saved.version})\n`);
    return 0;
  } finally {
    await store.close();
  }
}
