// Which published controls each audit check implements (issue 18). Compliance teams read the same
// Direct Send control under several names; the table is kept here, in one place, so the CLI
// labels, the --framework filter, the machine formats and docs/audit.md all agree.
import type { CheckResult } from './types.ts';

export const FRAMEWORKS = ['cis', 'scuba', 'maester', 'cipp'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

export const FRAMEWORK_NAMES: Record<Framework, string> = {
  cis: 'CIS Microsoft 365 Foundations Benchmark',
  scuba: 'CISA ScubaGear (SCuBA M365 baselines)',
  maester: 'Maester',
  cipp: 'CIPP standards',
};

export interface ControlRef {
  framework: Framework;
  id: string;
  /** The framework version the id belongs to, when ids change between versions (CIS renumbers). */
  version: string | null;
}

const cis = (id: string, version: string): ControlRef => ({ framework: 'cis', id, version });
const scuba = (id: string): ControlRef => ({ framework: 'scuba', id, version: null });
const maester = (id: string): ControlRef => ({ framework: 'maester', id, version: null });
const cipp = (id: string): ControlRef => ({ framework: 'cipp', id, version: null });

/**
 * The Direct Send control: Exchange Online's RejectDirectSend switch, and mxward's own equivalent
 * (the gateway enforcing the same rule for a self-hosted MX). CIS v7 gives the control a new
 * identifier; it is added here once the published v7 text has been checked.
 */
const DIRECT_SEND: ControlRef[] = [cis('6.5.5', 'v6.0.x'), scuba('MS.EXO.15.1v1'), maester('MT.1062'), cipp('EXODirectSend')];

export const CONTROLS_BY_CHECK: Readonly<Record<string, readonly ControlRef[]>> = {
  'exo.reject-direct-send': DIRECT_SEND,
  'mxward.reject-direct-send': DIRECT_SEND,
  // SCuBA EXO baseline: SPF that fails every unapproved sender, DMARC published and at p=reject.
  'dns.spf': [scuba('MS.EXO.2.2v2')],
  'dns.dmarc': [scuba('MS.EXO.4.1v1'), scuba('MS.EXO.4.2v1')],
};

export function controlsOf(checkId: string): ControlRef[] {
  return [...(CONTROLS_BY_CHECK[checkId] ?? [])];
}

/** `CIS 6.5.5 (v6.0.x)`, `MT.1062`: how a control is shown next to a check. */
export function controlLabel(c: ControlRef): string {
  const prefix = c.framework === 'cis' ? 'CIS ' : c.framework === 'cipp' ? 'CIPP ' : '';
  return `${prefix}${c.id}${c.version ? ` (${c.version})` : ''}`;
}

export function isFramework(value: string): value is Framework {
  return (FRAMEWORKS as readonly string[]).includes(value);
}

/**
 * Each result with the controls it implements; with a framework, only the checks that implement
 * one of its controls, labelled with that framework's ids alone.
 */
export function labelResults(results: CheckResult[], framework: Framework | null): CheckResult[] {
  const labelled = results.map((r) => ({ ...r, controls: controlsOf(r.id).filter((c) => !framework || c.framework === framework) }));
  return framework ? labelled.filter((r) => r.controls.length > 0) : labelled;
}
