import * as path from 'node:path';
import { EXIT } from '../lib/exit-codes';
import { KAFKA_LIVE_CHECKS, LIVE_CHECKS, POSTGRES_LIVE_CHECKS, STATIC_CHECKS } from './checks';
import { type ClusterReader, ClusterUnavailableError } from './cluster/cluster-reader';
import { type LiveContext, ReferenceData, type StaticContext } from './context';
import type { DataPlane, OpenDataPlane } from './data-plane/data-plane';
import { type Dist, DistError, loadDist } from './dist';
import type { Check, CheckMode, CheckResult, Component, Status } from './model';
import { ReferenceDataError } from './schema/schemas';

export interface CheckReport {
  readonly id: string;
  readonly description: string;
  readonly component: Component;
  readonly mode: CheckMode;
  /** The worst status among the results. */
  readonly status: Status;
  readonly remediation: string;
  readonly results: readonly CheckResult[];
  readonly elapsedMs: number;
  /** Not run: the check of this id found what it needs unreachable or unreadable, and says why (once). */
  readonly blockedBy?: string;
}

export interface VerifyReport {
  readonly dist: string;
  /** Where live checks looked, or why they did not run. */
  readonly cluster: { readonly checked: boolean; readonly description: string };
  /** Where the Kafka and PostgreSQL checks looked, or why they did not run. */
  readonly dataPlane: { readonly checked: boolean; readonly description: string };
  /** Things a person should know that are not check results (fallback to offline, flags not used yet). */
  readonly notices: readonly string[];
  readonly checks: readonly CheckReport[];
  readonly summary: Readonly<Record<Status, number>> & { readonly checks: number; readonly elapsedMs: number };
  /** healthy, findings, or could not check (takes precedence: the verdict is incomplete). */
  readonly exitCode: typeof EXIT.ok | typeof EXIT.findings | typeof EXIT.couldNotCheck;
}

/**
 * off: static checks only. auto: live checks too when a cluster answers, else a notice.
 * required: a cluster that does not answer is "could not check" (exit 2).
 */
export type LiveMode = 'off' | 'auto' | 'required';

export interface VerifyOptions {
  readonly distDir: string;
  readonly referenceDir: string;
  readonly live: LiveMode;
  /** Opens the cluster; throws ClusterUnavailableError when it cannot be reached. */
  readonly connect: () => Promise<ClusterReader>;
  /** Reaches Kafka and PostgreSQL for their live checks; undefined: they do not run. */
  readonly openDataPlane?: OpenDataPlane;
  /** Only these check ids (all when undefined). */
  readonly only?: readonly string[];
  readonly notices?: readonly string[];
  readonly onProgress?: (message: string) => void;
}

const SEVERITY: readonly Status[] = ['error', 'fail', 'warn', 'pass', 'skip'];

export function worstStatus(results: readonly CheckResult[]): Status {
  for (const status of SEVERITY) if (results.some((result) => result.status === status)) return status;
  return 'skip';
}

export async function runCheck<Context>(check: Check<Context>, mode: CheckMode, context: Context): Promise<CheckReport> {
  return (await attempt(check, mode, context)).report;
}

/** A check's report, and whether what it reads could not be reached (ClusterUnavailableError). */
async function attempt<Context>(check: Check<Context>, mode: CheckMode, context: Context): Promise<{ report: CheckReport; unreachable: boolean }> {
  const started = performance.now();
  let results: readonly CheckResult[];
  let unreachable = false;
  try {
    results = await check.run(context);
  } catch (error) {
    unreachable = error instanceof ClusterUnavailableError;
    results = [{ status: 'error', objects: [], message: `could not check: ${couldNotCheckReason(error)}` }];
  }
  if (results.length === 0) results = [{ status: 'skip', objects: [], message: 'nothing to check' }];
  const { id, description, component, remediation } = check;
  const elapsedMs = Math.round(performance.now() - started);
  return { report: { id, description, component, mode, status: worstStatus(results), remediation, results, elapsedMs }, unreachable };
}

/** Why a check could not run, in one line: a report is read by people, so never a stack trace. */
function couldNotCheckReason(error: unknown): string {
  if (error instanceof ClusterUnavailableError) return error.message;
  if (error instanceof ReferenceDataError) return `${error.message}; pass --reference <dir> with the reference data (laid out like the project's reference/)`;
  return `the check crashed: ${error instanceof Error ? `${error.name}: ${firstLine(error.message)}` : String(error)}`;
}

export function firstLine(text: string): string {
  return text.split('\n', 1)[0];
}

function notRun<Context>(check: Check<Context>, mode: CheckMode, message: string, status: Status): CheckReport {
  const { id, description, component, remediation } = check;
  return { id, description, component, mode, status, remediation, results: [{ status, objects: [], message }], elapsedMs: 0 };
}

/**
 * A check not run because an earlier one (blockedBy) found what both need unreachable: "could not check",
 * pointing at the check that says why, so that one connection error is reported once.
 */
export function blocked<Context>(check: Check<Context>, mode: CheckMode, what: string, blockedBy: string): CheckReport {
  return { ...notRun(check, mode, `could not check: ${what} (see ${blockedBy})`, 'error'), blockedBy };
}

/** Every check could not run for one reason: the first says it, the others point at the first. */
function unreachableFor<Context>(checks: readonly Check<Context>[], mode: CheckMode, message: string, what: string): CheckReport[] {
  return checks.map((check, index) => (index === 0 ? notRun(check, mode, `could not check: ${message}`, 'error') : blocked(check, mode, what, checks[0].id)));
}

/**
 * Runs checks in order against one target: once a check finds the target unreachable, the rest are not
 * run (they would only wait for the same failure) and point at it.
 */
async function runAgainstTarget<Context>(checks: readonly Check<Context>[], context: Context, what: string, onProgress?: (message: string) => void): Promise<CheckReport[]> {
  const reports: CheckReport[] = [];
  let unreachableAt: string | undefined;
  for (const check of checks) {
    if (unreachableAt) {
      reports.push(blocked(check, 'live', what, unreachableAt));
      continue;
    }
    onProgress?.(`live: ${check.id}`);
    const { report, unreachable } = await attempt(check, 'live', context);
    reports.push(report);
    if (unreachable) unreachableAt = check.id;
  }
  return reports;
}

function selectedChecks<Context>(checks: readonly Check<Context>[], only: readonly string[] | undefined): Check<Context>[] {
  return checks.filter((check) => !only || only.includes(check.id));
}

export async function runVerify(options: VerifyOptions): Promise<VerifyReport> {
  const started = performance.now();
  const notices = [...(options.notices ?? [])];
  const selected = <Context>(checks: readonly Check<Context>[]) => selectedChecks(checks, options.only);
  let dist: Dist;
  try {
    dist = loadDist(options.distDir);
  } catch (error) {
    if (!(error instanceof DistError)) throw error;
    // Without dist/ nothing can be judged: every check is "could not check".
    const checks = selected(STATIC_CHECKS).map((check) => notRun(check, 'static', `could not check: ${error.message}`, 'error'));
    const notChecked = { checked: false, description: 'not checked' };
    return finish(options.distDir, notChecked, notChecked, notices, checks, started);
  }
  const staticContext: StaticContext = { dist, reference: new ReferenceData(options.referenceDir) };
  const checks: CheckReport[] = [];
  for (const check of selected(STATIC_CHECKS)) checks.push(await runCheck(check, 'static', staticContext));

  let cluster = { checked: false, description: options.live === 'off' ? 'not checked (--offline)' : 'not checked (no cluster-state check selected)' };
  const liveChecks = selected(LIVE_CHECKS);
  const dataPlaneChecks = selected(KAFKA_LIVE_CHECKS).length + selected(POSTGRES_LIVE_CHECKS).length;
  // --live port-forwards to the data plane through the cluster, even when no cluster-state check is selected.
  const needsCluster = liveChecks.length > 0 || (options.live === 'required' && options.openDataPlane !== undefined && dataPlaneChecks > 0);
  if (options.live !== 'off' && needsCluster) {
    options.onProgress?.('connecting to the cluster');
    try {
      const reader = await options.connect();
      cluster = { checked: true, description: reader.description };
      const liveContext: LiveContext = { ...staticContext, cluster: reader };
      for (const check of liveChecks) {
        options.onProgress?.(`live: ${check.id}`);
        checks.push(await runCheck(check, 'live', liveContext));
      }
    } catch (error) {
      if (!(error instanceof ClusterUnavailableError)) throw error;
      if (options.live === 'required') {
        cluster = { checked: false, description: `could not check: ${error.message}` };
        checks.push(...unreachableFor(liveChecks, 'live', error.message, 'the cluster could not be read'));
      } else {
        cluster = { checked: false, description: 'not checked (none reachable)' };
        const skipped = options.openDataPlane ? 'no cluster-state checks' : 'static checks only';
        notices.push(`no cluster reachable, ${skipped} (${error.message}); pass --live to make this an error`);
      }
    }
  }
  const dataPlane = await runDataPlaneChecks(options, staticContext, cluster.checked, checks);
  return finish(path.relative(process.cwd(), dist.dir) || dist.dir, cluster, dataPlane, notices, checks, started);
}

async function runDataPlaneChecks(options: VerifyOptions, staticContext: StaticContext, clusterReached: boolean, checks: CheckReport[]): Promise<VerifyReport['dataPlane']> {
  const kafkaChecks = selectedChecks(KAFKA_LIVE_CHECKS, options.only);
  const postgresChecks = selectedChecks(POSTGRES_LIVE_CHECKS, options.only);
  if (options.live === 'off') return { checked: false, description: 'not checked (--offline)' };
  if (!options.openDataPlane) return { checked: false, description: 'not checked (--live port-forwards to Kafka and PostgreSQL; or pass --kafka-brokers, --postgres-url)' };
  if (kafkaChecks.length + postgresChecks.length === 0) return { checked: false, description: 'not checked (no data-plane check selected)' };
  options.onProgress?.('reaching Kafka and PostgreSQL');
  let plane: DataPlane;
  try {
    plane = await options.openDataPlane({ dist: staticContext.dist, clusterReached, onProgress: options.onProgress });
  } catch (error) {
    if (!(error instanceof ClusterUnavailableError)) throw error;
    checks.push(...unreachableFor<unknown>([...kafkaChecks, ...postgresChecks], 'live', error.message, 'Kafka and PostgreSQL are unreachable'));
    return { checked: false, description: `could not check: ${error.message}` };
  }
  try {
    // Kafka and PostgreSQL answer independently: neither waits on the other's round trips.
    const [kafkaReports, postgresReports] = await Promise.all([
      plane.kafka ? runAgainstTarget(kafkaChecks, { ...staticContext, kafka: plane.kafka }, `${plane.kafka.description} is unreachable`, options.onProgress) : [],
      plane.postgres ? runAgainstTarget(postgresChecks, { ...staticContext, postgres: plane.postgres }, `${plane.postgres.description} is unreachable`, options.onProgress) : [],
    ]);
    checks.push(...kafkaReports, ...postgresReports);
  } finally {
    await plane.close();
  }
  return { checked: true, description: plane.description };
}

function finish(
  dist: string,
  cluster: VerifyReport['cluster'],
  dataPlane: VerifyReport['dataPlane'],
  notices: string[],
  checks: CheckReport[],
  started: number,
): VerifyReport {
  const counts: Record<Status, number> = { pass: 0, fail: 0, warn: 0, skip: 0, error: 0 };
  for (const check of checks) counts[check.status]++;
  const exitCode = counts.error > 0 ? EXIT.couldNotCheck : counts.fail > 0 ? EXIT.findings : EXIT.ok;
  return { dist, cluster, dataPlane, notices, checks, summary: { ...counts, checks: checks.length, elapsedMs: Math.round(performance.now() - started) }, exitCode };
}

export const ALL_CHECK_IDS: readonly string[] = [...STATIC_CHECKS, ...LIVE_CHECKS, ...KAFKA_LIVE_CHECKS, ...POSTGRES_LIVE_CHECKS].map((check) => check.id);
