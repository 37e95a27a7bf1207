// The whole model as JSON: the machine-readable report (`--format json`).
import type { ReportModel } from '../build-report.ts';

export function renderJson(model: ReportModel): string {
  return `${JSON.stringify(model, null, 2)}\n`;
}
