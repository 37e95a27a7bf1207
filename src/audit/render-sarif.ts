// The audit as SARIF 2.1.0 (OASIS, issue 18): one reportingDescriptor per check (its controls as
// tags and properties), one result per check with kind pass/fail/notApplicable (SARIF §3.27.9), so
// code-scanning dashboards show passes too. Levels follow the exit code: only a failing required
// check is an error.
import { controlLabel, FRAMEWORK_NAMES } from './controls.ts';
import type { CheckResult } from './types.ts';

export const SARIF_SCHEMA_URI = 'https://json.schemastore.org/sarif-2.1.0.json';

type Level = 'none' | 'note' | 'warning' | 'error';
type Kind = 'pass' | 'fail' | 'notApplicable';

function levelAndKind(r: CheckResult): { level: Level; kind: Kind } {
  if (r.status === 'skip') return { level: 'none', kind: 'notApplicable' };
  if (r.status === 'pass') return { level: 'none', kind: 'pass' };
  return { level: r.status === 'fail' && r.required ? 'error' : 'warning', kind: 'fail' };
}

function rule(r: CheckResult) {
  const controls = r.controls ?? [];
  return {
    id: r.id,
    name: r.id.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase()),
    shortDescription: { text: r.title },
    fullDescription: { text: `${r.title}${r.required ? '' : ' (advisory)'}` },
    defaultConfiguration: { level: r.required ? 'error' : 'warning' },
    properties: {
      tags: [...new Set(['mxward', r.family, ...controls.map(controlLabel)])],
      controls: controls.map((c) => ({ framework: FRAMEWORK_NAMES[c.framework], id: c.id, version: c.version })),
    },
  };
}

function message(r: CheckResult): string {
  const lines = r.findings.map((f) => `${f.detail}${f.remedy && f.status !== 'pass' ? ` Remedy: ${f.remedy}` : ''}`);
  return lines.join('\n') || r.title;
}

export function renderSarif(results: CheckResult[], toolVersion?: string): object {
  return {
    $schema: SARIF_SCHEMA_URI,
    version: '2.1.0',
    runs: [{
      tool: { driver: { name: 'mxward audit', ...(toolVersion ? { version: toolVersion } : {}), rules: results.map(rule) } },
      invocations: [{ executionSuccessful: true }],
      results: results.map((r, ruleIndex) => ({
        ruleId: r.id,
        ruleIndex,
        ...levelAndKind(r),
        message: { text: message(r) },
        properties: { status: r.status, required: r.required },
      })),
    }],
  };
}
