// The audit as JUnit XML (issue 18), the format CI systems gate on: one testsuite per check family,
// one testcase per check. Only a required check that fails is a <failure>, matching the exit code;
// an advisory warning stays a passing testcase with its finding in <system-out>.
import { controlLabel } from './controls.ts';
import type { CheckResult } from './types.ts';

/** XML 1.0 §2.4 and §2.2: escape markup and drop characters XML cannot carry at all. */
export function xmlText(value: string): string {
  return value
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function caseName(r: CheckResult): string {
  const labels = (r.controls ?? []).map(controlLabel);
  return `${labels.length ? `[${labels.join(', ')}] ` : ''}${r.id}: ${r.title}`;
}

function testcase(r: CheckResult): string {
  const findings = r.findings.map((f) => `${f.status.toUpperCase()} ${f.detail}${f.remedy ? `\nremedy: ${f.remedy}` : ''}`).join('\n');
  const head = `    <testcase classname="mxward.audit.${xmlText(r.family)}" name="${xmlText(caseName(r))}"`;
  const body: string[] = [];
  if (r.status === 'skip') body.push('      <skipped/>');
  if (r.required && r.status === 'fail') {
    const first = r.findings.find((f) => f.status === 'fail');
    body.push(`      <failure message="${xmlText(first?.detail ?? 'failed')}" type="${xmlText(r.id)}">${xmlText(findings)}</failure>`);
  }
  if (findings) body.push(`      <system-out>${xmlText(findings)}</system-out>`);
  return body.length ? `${head}>\n${body.join('\n')}\n    </testcase>` : `${head}/>`;
}

const failed = (r: CheckResult) => r.required && r.status === 'fail';

export function renderJunit(results: CheckResult[]): string {
  const families = [...new Set(results.map((r) => r.family))];
  const suites = families.map((family) => {
    const rs = results.filter((r) => r.family === family);
    const attrs = `name="${xmlText(family)}" tests="${rs.length}" failures="${rs.filter(failed).length}" errors="0" skipped="${rs.filter((r) => r.status === 'skip').length}"`;
    return `  <testsuite ${attrs}>\n${rs.map(testcase).join('\n')}\n  </testsuite>`;
  });
  const total = `tests="${results.length}" failures="${results.filter(failed).length}" errors="0" skipped="${results.filter((r) => r.status === 'skip').length}"`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="mxward audit" ${total}>\n${suites.join('\n')}${suites.length ? '\n' : ''}</testsuites>\n`;
}
