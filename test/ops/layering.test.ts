// The layering in DESIGN.md, checked on every import in src/ (issue 13): a folder imports only
// folders below it, so there are no folder cycles; domain/ and policy/ import nothing with side
// effects; policy writes go through services/. Each known exception is listed with its reason,
// and an exception that no longer happens fails too, so the list cannot go stale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';

const SRC = join(import.meta.dirname, '../../src');

/**
 * Lower ranks are lower layers; a folder may import only folders of a strictly lower rank.
 * From DESIGN.md (domain <- policy <- auth/...; services used by cli and web; wiring in app)
 * and the tree as it is: smtp sits below auth because auth's checks plug into the SMTP
 * session's context, while the session itself never imports auth (app.ts wires them).
 */
export const RANKS: Readonly<Record<string, number>> = {
  domain: 0,
  policy: 1,
  config: 2, users: 2,
  store: 3,
  spool: 4, report: 4,
  smtp: 5, audit: 5,
  auth: 6, quarantine: 6,
  observability: 7, integrations: 7, services: 7,
  web: 8,
  app: 9,
  cli: 10,
};

export interface ImportEdge {
  /** Path under src/, e.g. `policy/compile.ts`. */
  from: string;
  /** Path under src/ for relative imports, else the module name (`node:fs`, `zod`). */
  to: string;
  typeOnly: boolean;
}

export interface LayerException { from: string; to: string; reason: string }

/** Imports against the ranks that the tree has today; each should disappear, not multiply. */
export const EXCEPTIONS: readonly LayerException[] = [
  {
    from: 'policy/compile.ts', to: 'config/policy-schema.ts',
    reason: 'type only: compile.ts turns the validated settings into matchers, so it names the schema\'s output type; the schema in turn validates with policy\'s pure parsers',
  },
  {
    from: 'policy/external-tag.ts', to: 'config/policy-schema.ts',
    reason: 'type only: the tagging decision reads the externalTagging settings by their schema type',
  },
  {
    from: 'config/delivery-schema.ts', to: 'spool/routing.ts',
    reason: 'the delivery schema validates routes with the spool\'s own route compiler (one parser, no copy); the compiler is pure and could move to policy/',
  },
  {
    from: 'integrations/postfix-audit-file.ts', to: 'cli/io.ts',
    reason: 'reading main.cf reports a missing file as the CLI\'s UsageError; a ServiceError-like value in integrations/ would remove it',
  },
];

/** The pure core: the whole policy is testable as a table (DESIGN.md). */
const PURE_FOLDERS: ReadonlySet<string> = new Set(['domain', 'policy']);

/** What domain/ and policy/ may import from outside src/: pure code only, no I/O. */
export const PURE_MODULES: ReadonlySet<string> = new Set(['ipaddr.js', 'node:url', 'zod', 'tldts']);

/** Only services/ changes the policy; cli/ and web/ call a service (one meaning, one audit). */
const POLICY_WRITER = 'store/policy-changes.ts';
const POLICY_WRITER_USERS = new Set(['services', 'store']);

export function folderOf(path: string): string {
  const first = path.split('/')[0];
  return first.endsWith('.ts') ? first.slice(0, -3) : first;
}

function listTsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return listTsFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Every import and re-export, static or dynamic, read with the TypeScript parser. */
export function importsOf(file: string, text: string): ImportEdge[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const from = relative(SRC, file).split('\\').join('/');
  const edges: ImportEdge[] = [];
  const add = (specifier: string, typeOnly: boolean) => {
    const to = specifier.startsWith('.') ? relative(SRC, normalize(join(dirname(file), specifier))).split('\\').join('/') : specifier;
    edges.push({ from, to, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const allTypes = clause !== undefined && (clause.isTypeOnly || (clause.name === undefined && clause.namedBindings !== undefined
        && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier.text, allTypes);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      add(node.arguments[0].text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

export interface Findings { violations: string[]; cycles: string[][]; staleExceptions: string[] }

/** Folder cycles among the edges, each as the folders on it (a strongly connected component). */
export function folderCycles(edges: ReadonlyArray<[string, string]>): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const [a, b] of edges) {
    if (a === b) continue;
    if (!graph.has(a)) graph.set(a, new Set());
    if (!graph.has(b)) graph.set(b, new Set());
    graph.get(a)!.add(b);
  }
  // Tarjan's algorithm: a component of more than one folder is a cycle.
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const connect = (v: string): void => {
    indexOf.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v)!) {
      if (!indexOf.has(w)) { connect(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
    }
    if (low.get(v) !== indexOf.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) { onStack.delete(w); component.push(w); if (w === v) break; }
    if (component.length > 1) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!indexOf.has(v)) connect(v);
  return cycles;
}

/** The rules, on any import graph (pure, so a synthetic graph proves they can fail). */
export function checkLayering(edges: readonly ImportEdge[], ranks: Readonly<Record<string, number>>, exceptions: readonly LayerException[]): Findings {
  const violations: string[] = [];
  const used = new Set<LayerException>();
  const folderEdges: Array<[string, string]> = [];
  for (const edge of edges) {
    const fromFolder = folderOf(edge.from);
    // A package, a node: module, or a file outside src/ (package.json): not a layer of its own.
    const external = !edge.to.endsWith('.ts') || edge.to.startsWith('../');
    if (!(fromFolder in ranks)) { violations.push(`${edge.from}: folder ${fromFolder}/ has no rank in the layering table`); continue; }
    if (external) {
      if (PURE_FOLDERS.has(fromFolder) && !edge.typeOnly && !PURE_MODULES.has(edge.to)) {
        violations.push(`${edge.from} imports ${edge.to}: ${fromFolder}/ is pure and may import only ${[...PURE_MODULES].join(', ')}`);
      }
      continue;
    }
    const toFolder = folderOf(edge.to);
    if (toFolder === fromFolder) continue;
    const excepted = exceptions.find((x) => x.from === edge.from && x.to === edge.to);
    if (excepted) { used.add(excepted); continue; }
    folderEdges.push([fromFolder, toFolder]);
    if (!(toFolder in ranks)) violations.push(`${edge.from} imports ${edge.to}: folder ${toFolder}/ has no rank in the layering table`);
    else if (ranks[toFolder] >= ranks[fromFolder]) violations.push(`${edge.from} imports ${edge.to}: ${fromFolder}/ (rank ${ranks[fromFolder]}) may only import lower layers, ${toFolder}/ is rank ${ranks[toFolder]}`);
    if (edge.to === POLICY_WRITER && !POLICY_WRITER_USERS.has(fromFolder)) violations.push(`${edge.from} writes the policy directly: call a service in services/ instead`);
  }
  const staleExceptions = exceptions.filter((x) => !used.has(x)).map((x) => `${x.from} -> ${x.to}`);
  return { violations, cycles: folderCycles(folderEdges), staleExceptions };
}

function srcImports(): ImportEdge[] {
  return listTsFiles(SRC).flatMap((file) => importsOf(file, readFileSync(file, 'utf8')));
}

test('src/ follows the layering of DESIGN.md: no upward import, no folder cycle, pure domain/ and policy/', () => {
  const edges = srcImports();
  assert.ok(edges.length > 300, `read ${edges.length} imports: the walk must see the whole tree`);
  const findings = checkLayering(edges, RANKS, EXCEPTIONS);
  assert.deepEqual(findings.violations, [], `imports against the layering:\n${findings.violations.join('\n')}`);
  assert.deepEqual(findings.cycles, [], 'folder cycles');
  assert.deepEqual(findings.staleExceptions, [], 'exceptions that no longer happen: remove them from EXCEPTIONS');
});

test('the rules fail on a synthetic graph with each kind of mistake', () => {
  const edge = (from: string, to: string, typeOnly = false): ImportEdge => ({ from, to, typeOnly });
  const ranks = { domain: 0, policy: 1, store: 3, services: 7, cli: 10, web: 8 };
  const clean = [edge('policy/a.ts', 'domain/types.ts'), edge('services/s.ts', 'store/ports.ts'), edge('cli/c.ts', 'services/s.ts'), edge('policy/a.ts', 'ipaddr.js')];
  assert.deepEqual(checkLayering(clean, ranks, []), { violations: [], cycles: [], staleExceptions: [] });

  const upward = checkLayering([...clean, edge('store/x.ts', 'services/s.ts')], ranks, []);
  assert.equal(upward.violations.length, 1);
  assert.match(upward.violations[0], /store\/x\.ts imports services\/s\.ts: store\/ \(rank 3\)/);

  const sideways = checkLayering([edge('web/w.ts', 'cli/c.ts'), edge('cli/c.ts', 'web/w.ts')], ranks, []);
  assert.equal(sideways.violations.length, 1, 'cli may import web, web may not import cli');
  assert.deepEqual(sideways.cycles, [['cli', 'web']]);

  const impure = checkLayering([edge('domain/t.ts', 'node:fs'), edge('policy/p.ts', 'pg'), edge('policy/q.ts', 'node:net', true)], ranks, []);
  assert.equal(impure.violations.length, 2, 'runtime I/O imports from the pure core fail; a type-only one does not');

  const unknown = checkLayering([edge('newthing/n.ts', 'domain/types.ts'), edge('cli/c.ts', 'newthing/n.ts')], ranks, []);
  assert.equal(unknown.violations.length, 2, 'a new folder needs a rank before it may import or be imported');

  const direct = checkLayering([edge('cli/c.ts', 'store/policy-changes.ts')], ranks, []);
  assert.match(direct.violations.join('\n'), /writes the policy directly/);

  const exception = { from: 'store/x.ts', to: 'services/s.ts', reason: 'test' };
  assert.deepEqual(checkLayering([edge('store/x.ts', 'services/s.ts')], ranks, [exception]).violations, []);
  assert.deepEqual(checkLayering([], ranks, [exception]).staleExceptions, ['store/x.ts -> services/s.ts']);
});

test('imports are read as TypeScript reads them: type-only, re-exports, dynamic imports, multi-line clauses', () => {
  const file = join(SRC, 'policy/example.ts');
  const text = [
    "import type { A } from '../domain/types.ts';",
    "import { type B, type C } from '../config/policy-schema.ts';",
    "import {\n  x,\n  y,\n} from '../store/ports.ts';",
    "export { z } from './other.ts';",
    "export type { W } from '../auth/compauth.ts';",
    "const later = await import('../spool/spool.ts');",
    "// import { fake } from '../cli/io.ts';",
    "const s = \"import { no } from '../web/x.ts'\";",
  ].join('\n');
  assert.deepEqual(importsOf(file, text), [
    { from: 'policy/example.ts', to: 'domain/types.ts', typeOnly: true },
    { from: 'policy/example.ts', to: 'config/policy-schema.ts', typeOnly: true },
    { from: 'policy/example.ts', to: 'store/ports.ts', typeOnly: false },
    { from: 'policy/example.ts', to: 'policy/other.ts', typeOnly: false },
    { from: 'policy/example.ts', to: 'auth/compauth.ts', typeOnly: true },
    { from: 'policy/example.ts', to: 'spool/spool.ts', typeOnly: false },
  ]);
});
