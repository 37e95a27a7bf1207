// Audit mappings and machine formats (issue 18): controls per check, --framework, JUnit XML and
// SARIF 2.1.0. The outputs are checked against the required structure of their schemas, written
// down below (no network): the SARIF 2.1.0 JSON schema (OASIS) and the JUnit XML schema CI tools
// read (Ant/Jenkins junit-10.xsd). The XML is parsed by Python's ElementTree, a strict parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mxward } from '../helpers/commands.ts';
import { ALL_CHECKS } from '../../src/audit/run-audit.ts';
import { CONTROLS_BY_CHECK, labelResults } from '../../src/audit/controls.ts';
import { renderJunit } from '../../src/audit/render-junit.ts';
import { renderSarif } from '../../src/audit/render-sarif.ts';
import type { CheckResult } from '../../src/audit/types.ts';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/report/${name}`, import.meta.url));
const dataDir = await mkdtemp(join(tmpdir(), 'mxward-audit-formats-'));
test.after(() => rm(dataDir, { recursive: true, force: true }));
const noStore = join(dataDir, 'no-store');
const failing = [fixture('organization-config-utf16.json'), fixture('inbound-connectors-weak.json'), fixture('accepted-domains.json')];

// ---- SARIF 2.1.0: required properties, enums and allowed property names (additionalProperties: false).
const SARIF = {
  log: { required: ['version', 'runs'], allowed: ['$schema', 'version', 'runs', 'inlineExternalProperties', 'properties'] },
  run: { required: ['tool'], allowed: ['tool', 'invocations', 'conversion', 'language', 'versionControlProvenance', 'originalUriBaseIds', 'artifacts', 'logicalLocations', 'graphs', 'results', 'automationDetails', 'runAggregates', 'baselineGuid', 'redactionTokens', 'defaultEncoding', 'defaultSourceLanguage', 'newlineSequences', 'columnKind', 'externalPropertyFileReferences', 'threadFlowLocations', 'taxonomies', 'addresses', 'translations', 'policies', 'webRequests', 'webResponses', 'specialLocations', 'properties'] },
  tool: { required: ['driver'], allowed: ['driver', 'extensions', 'properties'] },
  toolComponent: { required: ['name'], allowed: ['guid', 'name', 'organization', 'product', 'productSuite', 'shortDescription', 'fullDescription', 'fullName', 'version', 'semanticVersion', 'dottedQuadFileVersion', 'releaseDateUtc', 'downloadUri', 'informationUri', 'globalMessageStrings', 'notifications', 'rules', 'taxa', 'locations', 'language', 'contents', 'isComprehensive', 'localizedDataSemanticVersion', 'minimumRequiredLocalizedDataSemanticVersion', 'associatedComponent', 'translationMetadata', 'supportedTaxonomies', 'properties'] },
  reportingDescriptor: { required: ['id'], allowed: ['id', 'deprecatedIds', 'guid', 'deprecatedGuids', 'name', 'deprecatedNames', 'shortDescription', 'fullDescription', 'messageStrings', 'defaultConfiguration', 'helpUri', 'help', 'relationships', 'properties'] },
  reportingConfiguration: { required: [], allowed: ['enabled', 'level', 'rank', 'parameters', 'properties'] },
  multiformatMessageString: { required: ['text'], allowed: ['text', 'markdown', 'properties'] },
  invocation: { required: ['executionSuccessful'], allowed: ['commandLine', 'arguments', 'responseFiles', 'startTimeUtc', 'endTimeUtc', 'exitCode', 'ruleConfigurationOverrides', 'notificationConfigurationOverrides', 'toolExecutionNotifications', 'toolConfigurationNotifications', 'exitCodeDescription', 'exitSignalName', 'exitSignalNumber', 'processStartFailureMessage', 'executionSuccessful', 'machine', 'account', 'processId', 'executableLocation', 'workingDirectory', 'environmentVariables', 'stdin', 'stdout', 'stderr', 'stdoutStderr', 'properties'] },
  result: { required: ['message'], allowed: ['guid', 'correlationGuid', 'ruleId', 'ruleIndex', 'rule', 'taxa', 'kind', 'level', 'message', 'analysisTarget', 'locations', 'webRequest', 'webResponse', 'fingerprints', 'partialFingerprints', 'codeFlows', 'graphs', 'graphTraversals', 'stacks', 'relatedLocations', 'suppressions', 'baselineState', 'rank', 'attachments', 'hostedViewerUri', 'workItemUris', 'provenance', 'fixes', 'occurrenceCount', 'properties'] },
  message: { required: [], allowed: ['text', 'markdown', 'id', 'arguments', 'properties'] },
} as const;
const LEVELS = ['none', 'note', 'warning', 'error'];
const KINDS = ['notApplicable', 'pass', 'fail', 'review', 'open', 'informational'];

type Json = Record<string, unknown>;
function shape(where: string, value: unknown, kind: keyof typeof SARIF): Json {
  assert.ok(value && typeof value === 'object' && !Array.isArray(value), `${where}: an object`);
  const obj = value as Json;
  for (const key of SARIF[kind].required) assert.ok(key in obj, `${where}: required property ${key}`);
  for (const key of Object.keys(obj)) assert.ok((SARIF[kind].allowed as readonly string[]).includes(key), `${where}: property ${key} is not in the ${kind} schema`);
  if ('properties' in obj) {
    const bag = obj.properties as Json;
    if ('tags' in bag) {
      assert.ok(Array.isArray(bag.tags) && bag.tags.every((t) => typeof t === 'string'), `${where}.properties.tags: strings`);
      assert.equal(new Set(bag.tags as string[]).size, (bag.tags as string[]).length, `${where}.properties.tags: unique`);
    }
  }
  return obj;
}

function validateSarif(log: unknown): void {
  const root = shape('sarifLog', log, 'log');
  assert.equal(root.version, '2.1.0');
  assert.ok(Array.isArray(root.runs));
  for (const [i, runValue] of (root.runs as unknown[]).entries()) {
    const run = shape(`runs[${i}]`, runValue, 'run');
    const driver = shape(`runs[${i}].tool.driver`, shape(`runs[${i}].tool`, run.tool, 'tool').driver, 'toolComponent');
    assert.equal(typeof driver.name, 'string');
    const rules = (driver.rules ?? []) as unknown[];
    for (const [j, r] of rules.entries()) {
      const rule = shape(`rules[${j}]`, r, 'reportingDescriptor');
      for (const k of ['shortDescription', 'fullDescription'] as const) if (rule[k]) shape(`rules[${j}].${k}`, rule[k], 'multiformatMessageString');
      if (rule.defaultConfiguration) assert.ok(LEVELS.includes(String(shape(`rules[${j}].defaultConfiguration`, rule.defaultConfiguration, 'reportingConfiguration').level)));
    }
    for (const [j, inv] of ((run.invocations ?? []) as unknown[]).entries()) assert.equal(typeof shape(`invocations[${j}]`, inv, 'invocation').executionSuccessful, 'boolean');
    for (const [j, r] of ((run.results ?? []) as unknown[]).entries()) {
      const result = shape(`results[${j}]`, r, 'result');
      const msg = shape(`results[${j}].message`, result.message, 'message');
      assert.ok(typeof msg.text === 'string' || typeof msg.id === 'string', `results[${j}].message: text or id`);
      if ('level' in result) assert.ok(LEVELS.includes(result.level as string), `results[${j}].level`);
      if ('kind' in result) assert.ok(KINDS.includes(result.kind as string), `results[${j}].kind`);
      // SARIF §3.27.5-6: ruleIndex points into the driver's rules, at the rule named by ruleId.
      assert.ok(Number.isInteger(result.ruleIndex) && (result.ruleIndex as number) >= -1);
      assert.equal((rules[result.ruleIndex as number] as Json).id, result.ruleId);
      // §3.27.9: a pass or notApplicable result has level none.
      if (result.kind !== 'fail') assert.equal(result.level, 'none');
    }
  }
}

// ---- JUnit XML (junit-10.xsd): element names, required attributes, children allowed, counts.
interface XmlNode { tag: string; attrib: Record<string, string>; text: string; children: XmlNode[] }
function parseXml(xml: string): XmlNode {
  const script = `import sys, json, xml.etree.ElementTree as ET
def walk(e): return {'tag': e.tag, 'attrib': e.attrib, 'text': e.text or '', 'children': [walk(c) for c in e]}
print(json.dumps(walk(ET.fromstring(sys.stdin.buffer.read()))))`;
  return JSON.parse(execFileSync('python3', ['-c', script], { input: xml, encoding: 'utf8' })) as XmlNode;
}

const count = (value: string | undefined, where: string): number => {
  assert.match(value ?? '', /^\d+$/, `${where}: a non-negative integer`);
  return Number(value);
};

function validateJunit(root: XmlNode): void {
  assert.equal(root.tag, 'testsuites');
  let tests = 0; let failures = 0; let skipped = 0;
  for (const suite of root.children) {
    assert.equal(suite.tag, 'testsuite', 'testsuites holds only testsuite elements');
    assert.ok(suite.attrib.name, 'testsuite@name is required');
    const cases = suite.children.filter((c) => c.tag === 'testcase');
    assert.ok(suite.children.every((c) => ['properties', 'testcase', 'system-out', 'system-err'].includes(c.tag)));
    assert.equal(count(suite.attrib.tests, 'testsuite@tests'), cases.length);
    assert.equal(count(suite.attrib.errors, 'testsuite@errors'), cases.filter((c) => c.children.some((k) => k.tag === 'error')).length);
    const f = count(suite.attrib.failures, 'testsuite@failures');
    const s = count(suite.attrib.skipped, 'testsuite@skipped');
    assert.equal(f, cases.filter((c) => c.children.some((k) => k.tag === 'failure')).length);
    assert.equal(s, cases.filter((c) => c.children.some((k) => k.tag === 'skipped')).length);
    for (const c of cases) {
      assert.ok(c.attrib.name && c.attrib.classname, 'testcase@name and @classname');
      assert.ok(c.children.every((k) => ['skipped', 'error', 'failure', 'system-out', 'system-err'].includes(k.tag)), `testcase ${c.attrib.name}: children`);
      assert.ok(c.children.filter((k) => ['skipped', 'error', 'failure'].includes(k.tag)).length <= 1, 'at most one of skipped, error, failure');
    }
    tests += cases.length; failures += f; skipped += s;
  }
  assert.equal(count(root.attrib.tests, 'testsuites@tests'), tests);
  assert.equal(count(root.attrib.failures, 'testsuites@failures'), failures);
  assert.equal(count(root.attrib.skipped, 'testsuites@skipped'), skipped);
}

test('every mapped check exists, and the Direct Send checks name all four frameworks', () => {
  const ids = new Set(ALL_CHECKS.map((c) => c.id));
  for (const id of Object.keys(CONTROLS_BY_CHECK)) assert.ok(ids.has(id), `mapping names unknown check ${id}`);
  for (const id of ['exo.reject-direct-send', 'mxward.reject-direct-send']) {
    assert.deepEqual(CONTROLS_BY_CHECK[id].map((c) => `${c.framework}:${c.id}`), ['cis:6.5.5', 'scuba:MS.EXO.15.1v1', 'maester:MT.1062', 'cipp:EXODirectSend']);
  }
});

test('--format sarif: a valid SARIF 2.1.0 log, the failing Direct Send check an error with its controls as tags, exit 1', async () => {
  const r = await mxward(noStore, ['audit', ...failing, '--format', 'sarif']);
  assert.equal(r.code, 1, r.stderr);
  const log = JSON.parse(r.stdout);
  validateSarif(log);
  const run = log.runs[0];
  const idx = run.results.findIndex((x: Json) => x.ruleId === 'exo.reject-direct-send');
  assert.deepEqual([run.results[idx].level, run.results[idx].kind], ['error', 'fail']);
  assert.match(run.results[idx].message.text, /RejectDirectSend is False[\s\S]*Set-OrganizationConfig/);
  assert.ok(run.tool.driver.rules[idx].properties.tags.includes('MT.1062'));
  assert.ok(run.tool.driver.rules[idx].properties.tags.includes('CIS 6.5.5 (v6.0.x)'));
  assert.ok(run.results.some((x: Json) => x.kind === 'pass'), 'passing checks are reported as kind pass');
});

test('--format junit: valid JUnit XML; only failing required checks are failures; exit codes match', async () => {
  const bad = await mxward(noStore, ['audit', ...failing, '--format', 'junit']);
  assert.equal(bad.code, 1, bad.stderr);
  const root = parseXml(bad.stdout);
  validateJunit(root);
  const cases = root.children.flatMap((s) => s.children);
  const direct = cases.find((c) => c.attrib.name.includes('exo.reject-direct-send'))!;
  assert.match(direct.attrib.name, /^\[CIS 6\.5\.5 \(v6\.0\.x\), MS\.EXO\.15\.1v1, MT\.1062, CIPP EXODirectSend\] /);
  assert.equal(direct.children[0].tag, 'failure');
  const advisory = cases.find((c) => c.attrib.name.includes('exo.connectors.require-tls'))!;
  assert.ok(!advisory.children.some((k) => k.tag === 'failure'), 'an advisory warning is not a failure');
  const good = await mxward(noStore, ['audit', fixture('organization-config-enforced.json'), fixture('inbound-connectors.json'), fixture('accepted-domains.json'), '--format', 'junit']);
  assert.equal(good.code, 0, good.stderr);
  const okRoot = parseXml(good.stdout);
  validateJunit(okRoot);
  assert.equal(okRoot.attrib.failures, '0');
});

test('--framework filters to the checks implementing its controls and labels with its ids only', async () => {
  const r = await mxward(noStore, ['audit', ...failing, '--framework', 'maester', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.framework, 'maester');
  assert.deepEqual(out.checks.map((c: Json) => c.id), ['exo.reject-direct-send']);
  assert.deepEqual(out.checks[0].controls, [{ framework: 'maester', id: 'MT.1062', version: null }]);
  const text = await mxward(noStore, ['audit', ...failing, '--framework', 'cis']);
  assert.match(text.stdout, /FAIL\s+Direct Send submissions are rejected \(RejectDirectSend\)\s+RejectDirectSend is False \[CIS 6\.5\.5 \(v6\.0\.x\)\]/);
  assert.doesNotMatch(text.stdout, /Connector IP entries/);
  const cipp = await mxward(noStore, ['audit', fixture('organization-config-enforced.json'), '--framework', 'cipp', '--format', 'sarif']);
  assert.equal(cipp.code, 0, cipp.stderr);
  validateSarif(JSON.parse(cipp.stdout));
});

test('usage errors: unknown framework or format, exit 2 with one line naming the option', async () => {
  const fw = await mxward(noStore, ['audit', ...failing, '--framework', 'nist']);
  assert.equal(fw.code, 2);
  assert.match(fw.stderr, /--framework: expected cis, scuba, maester, cipp, got "nist"/);
  assert.doesNotMatch(fw.stderr, /\n\s+at /);
  const fmt = await mxward(noStore, ['audit', ...failing, '--format', 'xml']);
  assert.equal(fmt.code, 2);
  assert.match(fmt.stderr, /--format: expected text, json, junit or sarif/);
});

test('renderers escape what XML cannot carry and keep an empty audit valid', () => {
  const odd: CheckResult = { id: 'x.odd', family: 'mxward', title: 'Odd <&> "title"', required: true, reference: null, status: 'fail', findings: [{ status: 'fail', detail: 'control char \u0001 and ]]> here', remedy: 'fix & retry' }] };
  const root = parseXml(renderJunit(labelResults([odd], null)));
  validateJunit(root);
  assert.equal(root.children[0].children[0].attrib.name, 'x.odd: Odd <&> "title"');
  validateJunit(parseXml(renderJunit([])));
  validateSarif(renderSarif([]));
  validateSarif(renderSarif(labelResults([odd, { ...odd, id: 'x.skip', status: 'skip', findings: [] }], null), '1.0.0'));
});
