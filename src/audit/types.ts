// Audit checks as data (issue 5, DESIGN.md "audit/ checks as data, one file per family"): each
// check names what it needs, and returns findings; the runner skips a check whose input is absent.
import type { BootstrapConfig } from '../config/bootstrap.ts';
import type { ControlRef } from './controls.ts';
import type { PolicyDocument } from '../config/policy-schema.ts';
import type { ExoAcceptedDomain, ExoConnector, ExoOrgConfig } from '../report/import/exo-config.ts';

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface Finding {
  status: CheckStatus;
  /** What was found, naming the object (connector, domain) it is about. */
  detail: string;
  /** What to do about a fail or warn. */
  remedy?: string;
}

export interface AuditContext {
  exo: { org: ExoOrgConfig | null; connectors: ExoConnector[] | null; domains: ExoAcceptedDomain[] | null };
  mxward: { policy: PolicyDocument | null; bootstrap: BootstrapConfig | null };
  /** TXT lookups for --dns; null when DNS checks were not asked for. */
  dns: { txt(name: string): Promise<string[] | 'nxdomain' | 'error'> } | null;
}

export type Needs = 'exo.org' | 'exo.connectors' | 'exo.domains' | 'mxward.policy' | 'mxward.bootstrap' | 'dns';

export interface AuditCheck {
  id: string;
  family: 'exchange-online' | 'mxward' | 'dns';
  title: string;
  /** A required check that fails makes the exit code non-zero; others can only warn. */
  required: boolean;
  /** Reference, e.g. the CIS control. */
  reference?: string;
  needs: Needs[];
  evaluate(ctx: AuditContext): Finding[] | Promise<Finding[]>;
}

export interface CheckResult {
  id: string;
  family: AuditCheck['family'];
  title: string;
  required: boolean;
  reference: string | null;
  status: CheckStatus;
  findings: Finding[];
  /** The published controls this check implements (controls.ts); set by labelResults. */
  controls?: ControlRef[];
}
