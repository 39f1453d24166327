import type { CheckResult, Component, Status } from './model';
import type { CheckReport, VerifyReport } from './runner';

export const STATUS_SYMBOL: Readonly<Record<Status, string>> = { pass: '✓', fail: '✗', warn: '!', skip: '-', error: '?' };

const COMPONENT_ORDER: readonly Component[] = ['platform', 'kafka', 'postgres', 'dapr', 'cluster'];

/** The table a person reads: one line per check, grouped by component, details only for what needs attention. */
export function formatHuman(report: VerifyReport): string {
  const lines: string[] = [];
  lines.push(`verify ${report.dist}/ — cluster: ${report.cluster.description}`);
  if (report.dataPlane.checked || report.checks.some((check) => check.mode === 'live')) lines.push(`data plane: ${report.dataPlane.description}`);
  for (const notice of report.notices) lines.push(`note: ${notice}`);
  const width = Math.max(...report.checks.map((check) => check.id.length), 0);
  for (const component of COMPONENT_ORDER) {
    const checks = report.checks.filter((check) => check.component === component);
    if (checks.length === 0) continue;
    lines.push('', component);
    for (const check of checks) lines.push(...formatCheck(check, width));
  }
  const { summary } = report;
  lines.push(
    '',
    `${summary.checks} checks: ${summary.pass} passed, ${summary.fail} failed, ${summary.warn} warnings, ${summary.skip} skipped` +
      `${summary.error ? `, ${summary.error} could not check` : ''} (${(summary.elapsedMs / 1000).toFixed(2)} s) — exit ${report.exitCode}`,
  );
  return lines.join('\n');
}

/**
 * One check as the report shows it: its line, then the results that need attention with their fix.
 * showPassed also shows a check's one passing result (deploy's preflight shows what it found).
 */
export function formatCheck(check: CheckReport, width: number, showPassed = false): string[] {
  const counted = check.results.filter((result) => result.status === 'pass').length;
  const lines = [`  ${STATUS_SYMBOL[check.status]} ${check.id.padEnd(width)}  ${check.description}${counted > 1 ? ` (${counted} passed)` : ''}`];
  const shown = (result: CheckResult) => result.status !== 'pass' || (showPassed && counted === 1);
  const attention = check.results.filter((result) => shown(result) && (result.status !== 'skip' || check.status === 'skip'));
  for (const result of attention) {
    lines.push(`      ${STATUS_SYMBOL[result.status]} ${result.message}`);
    if (result.status === 'fail') lines.push(`        fix: ${result.remediation ?? check.remediation}`);
  }
  return lines;
}

/** The machine-readable report (--output json); object references instead of formatted strings. */
export function formatJson(report: VerifyReport): string {
  return JSON.stringify(
    {
      dist: report.dist,
      cluster: report.cluster,
      dataPlane: report.dataPlane,
      notices: report.notices,
      summary: report.summary,
      exitCode: report.exitCode,
      checks: report.checks.map((check) => ({
        ...check,
        results: check.results.map((result) => ({
          ...result,
          remediation: result.status === 'fail' ? (result.remediation ?? check.remediation) : undefined,
        })),
      })),
    },
    null,
    2,
  );
}
