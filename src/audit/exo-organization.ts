// Exchange Online organization settings (Get-OrganizationConfig).
import type { AuditCheck } from './types.ts';

export const exoOrganizationChecks: AuditCheck[] = [
  {
    id: 'exo.reject-direct-send',
    family: 'exchange-online',
    title: 'Direct Send submissions are rejected (RejectDirectSend)',
    reference: 'CIS Microsoft 365 Foundations v6: Ensure Direct Send submissions are rejected; Maester MT.1062',
    required: true,
    needs: ['exo.org'],
    evaluate(ctx) {
      const org = ctx.exo.org!;
      if (org.rejectDirectSend === true) return [{ status: 'pass', detail: 'RejectDirectSend is True' }];
      return [{
        status: 'fail',
        detail: org.rejectDirectSend === false ? 'RejectDirectSend is False' : 'RejectDirectSend is missing from the export (not set, or the export predates it)',
        remedy: 'run `mxward report` over your message trace to see what would be refused, add connectors for the legitimate sources, then Set-OrganizationConfig -RejectDirectSend $true',
      }];
    },
  },
];
