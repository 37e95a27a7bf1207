// `mxward audit --postfix main.cf` (issue 15): is this Postfix wired to mxward the way
// docs/postfix.md says? Reads main.cf the way Postfix does (continuation lines, comments, the last
// definition wins, `$name` references) and judges the restriction order, the fail-closed defaults
// and the client-certificate settings. Pure: text in, audit results out.
import type { CheckResult, CheckStatus, Finding } from '../audit/types.ts';
import type { PolicyDocument } from '../config/policy-schema.ts';
import { ConfigError } from '../config/errors.ts';

export interface MainCf {
  file: string;
  values: Map<string, { value: string; line: number }>;
}

/** main.cf(5): `name = value`, a line starting with whitespace continues the previous one, `#` comments. */
export function parseMainCf(text: string, file: string): MainCf {
  const values = new Map<string, { value: string; line: number }>();
  const problems: string[] = [];
  let current: { name: string; value: string; line: number } | null = null;
  const flush = () => { if (current) values.set(current.name, { value: current.value.trim(), line: current.line }); current = null; };
  text.split(/\r?\n/).forEach((raw, i) => {
    if (/^\s*(#|$)/.test(raw)) return;
    if (/^\s/.test(raw)) {
      if (current) current.value += ` ${raw.trim()}`;
      else problems.push(`line ${i + 1}: continuation line without a parameter before it`);
      return;
    }
    flush();
    const m = /^([A-Za-z0-9_.-]+)\s*=(.*)$/.exec(raw);
    if (!m) { problems.push(`line ${i + 1}: expected "name = value", got ${JSON.stringify(raw.slice(0, 60))}`); return; }
    current = { name: m[1], value: m[2], line: i + 1 };
  });
  flush();
  if (problems.length) throw new ConfigError(file, problems);
  return { file, values };
}

/** The value with `$name` / `${name}` references expanded (bounded: no loops). */
function valueOf(cf: MainCf, name: string, depth = 0): string | null {
  const entry = cf.values.get(name);
  if (!entry) return null;
  if (depth > 8) return entry.value;
  return entry.value.replace(/\$\{?([A-Za-z0-9_]+)\}?/g, (_, ref: string) => valueOf(cf, ref, depth + 1) ?? '');
}

/** A restriction list as tokens; `{ … }` groups (Postfix 3.0 per-service settings) stay one token. */
export function restrictionTokens(value: string): string[] {
  const tokens: string[] = [];
  const re = /\{[^}]*\}|[^\s,{}]+/g;
  for (const m of value.matchAll(re)) tokens.push(m[0]);
  return tokens;
}

/** Restrictions that end a list with "accept" for a client mxward should still judge. */
const BYPASSING_PERMITS = new Set(['permit', 'permit_auth_destination', 'permit_mx_backup', 'permit_tls_all_clientcerts', 'permit_tls_clientcerts', 'permit_dnswl_client', 'permit_rhswl_client']);
/** Permits docs/postfix.md places before mxward on purpose (the organisation's own users and servers). */
const INTENDED_PERMITS = new Set(['permit_sasl_authenticated', 'permit_mynetworks']);

function result(id: string, title: string, required: boolean, findings: Finding[]): CheckResult {
  const rank: Record<CheckStatus, number> = { skip: 0, pass: 1, warn: 2, fail: 3 };
  const adjusted = required ? findings : findings.map((f) => (f.status === 'fail' ? { ...f, status: 'warn' as const } : f));
  const status = adjusted.reduce<CheckStatus>((w, f) => (rank[f.status] > rank[w] ? f.status : w), 'skip');
  return { id, family: 'mxward', title, required, reference: 'docs/postfix.md', status, findings: adjusted };
}

function policyServiceFindings(cf: MainCf): Finding[] {
  const at = (name: string) => `${cf.file}:${cf.values.get(name)?.line ?? '?'} ${name}`;
  for (const list of ['smtpd_recipient_restrictions', 'smtpd_relay_restrictions']) {
    const tokens = restrictionTokens(valueOf(cf, list) ?? '');
    const index = tokens.indexOf('check_policy_service');
    if (index < 0) continue;
    const findings: Finding[] = [{ status: 'pass', detail: `${at(list)}: check_policy_service ${tokens[index + 1] ?? '?'}` }];
    const before = tokens.slice(0, index);
    for (const t of before.filter((x) => BYPASSING_PERMITS.has(x) || /^check_.*_access$/.test(x))) {
      const access = t.startsWith('check_');
      findings.push({
        status: access ? 'warn' : 'fail', detail: `${at(list)}: ${t} comes before check_policy_service${access ? ' (an OK in that table skips mxward)' : ': the clients it permits skip mxward'}`,
        remedy: `move check_policy_service before ${t}, right after ${[...INTENDED_PERMITS].join('/')} and reject_unauth_destination`,
      });
    }
    const intended = before.filter((x) => INTENDED_PERMITS.has(x));
    if (intended.length) findings.push({ status: 'pass', detail: `${intended.join(', ')} before mxward: those sessions are trusted by Postfix, as intended` });
    if (!before.includes('reject_unauth_destination') && !restrictionTokens(valueOf(cf, 'smtpd_relay_restrictions') ?? '').includes('reject_unauth_destination')) {
      findings.push({ status: 'warn', detail: 'no reject_unauth_destination before the policy check: relay protection depends on mxward being up', remedy: 'keep reject_unauth_destination before check_policy_service' });
    }
    return findings;
  }
  return [{ status: 'fail', detail: `${cf.file}: no check_policy_service in smtpd_recipient_restrictions or smtpd_relay_restrictions`, remedy: 'add check_policy_service inet:127.0.0.1:10040 (docs/postfix.md §2)' }];
}

function failClosedFindings(cf: MainCf): Finding[] {
  const findings: Finding[] = [];
  const milters = valueOf(cf, 'smtpd_milters')?.trim();
  if (!milters) findings.push({ status: 'fail', detail: 'smtpd_milters is not set: no header-From check, authentication, stamps or quarantine', remedy: 'smtpd_milters = inet:127.0.0.1:10041' });
  else findings.push({ status: 'pass', detail: `smtpd_milters = ${milters}` });
  const action = (valueOf(cf, 'milter_default_action') ?? 'tempfail').trim().toLowerCase();
  if (milters) {
    findings.push(action === 'tempfail' || action === 'reject'
      ? { status: 'pass', detail: `milter_default_action = ${action}${cf.values.has('milter_default_action') ? '' : ' (Postfix default)'}` }
      : { status: 'fail', detail: `milter_default_action = ${action}: mail is ${action === 'accept' ? 'accepted unchecked' : 'not refused'} while mxward is down`, remedy: 'milter_default_action = tempfail' });
  }
  const policyDefault = valueOf(cf, 'smtpd_policy_service_default_action')?.trim();
  if (policyDefault && !/^(4\d\d|defer|defer_if_permit)\b/i.test(policyDefault)) {
    findings.push({ status: 'fail', detail: `smtpd_policy_service_default_action = ${policyDefault}: mail passes while mxward is down`, remedy: 'smtpd_policy_service_default_action = 451 4.3.5 Policy service unavailable, try again later' });
  }
  return findings;
}

function certificateFindings(cf: MainCf, policy: PolicyDocument | null): Finding[] {
  const byCert = (policy?.connectors ?? []).filter((c) => c.enabled && (c.tlsSenderCertificateName || (c.certificateFingerprints?.length ?? 0) > 0));
  const ask = (valueOf(cf, 'smtpd_tls_ask_ccert') ?? 'no').toLowerCase() === 'yes';
  const digest = (valueOf(cf, 'smtpd_tls_fingerprint_digest') ?? 'sha256').toLowerCase();
  const findings: Finding[] = [];
  const names = byCert.map((c) => c.name).join(', ');
  if (!ask) findings.push({ status: byCert.length ? 'fail' : 'warn', detail: `smtpd_tls_ask_ccert is not yes: certificate connectors${byCert.length ? ` (${names})` : ''} never match`, remedy: 'smtpd_tls_ask_ccert = yes with smtpd_tls_CAfile naming the partners\' CAs' });
  else findings.push({ status: 'pass', detail: 'smtpd_tls_ask_ccert = yes' });
  if (ask && !valueOf(cf, 'smtpd_tls_CAfile') && !valueOf(cf, 'smtpd_tls_CApath')) findings.push({ status: 'warn', detail: 'no smtpd_tls_CAfile/CApath: no client certificate is verified, so none names a connector', remedy: 'smtpd_tls_CAfile = /etc/postfix/partner-cas.pem' });
  if (digest !== 'sha256' && byCert.some((c) => c.certificateFingerprints?.length)) findings.push({ status: 'fail', detail: `smtpd_tls_fingerprint_digest = ${digest}: connector pins are SHA-256`, remedy: 'smtpd_tls_fingerprint_digest = sha256' });
  return findings;
}

export function auditPostfix(cf: MainCf, policy: PolicyDocument | null): CheckResult[] {
  return [
    result('postfix.policy-service', 'Postfix consults mxward at RCPT', true, policyServiceFindings(cf)),
    result('postfix.fail-closed', 'Postfix fails closed without mxward', true, failClosedFindings(cf)),
    result('postfix.client-certificates', 'Postfix verifies client certificates', false, certificateFindings(cf, policy)),
  ];
}
