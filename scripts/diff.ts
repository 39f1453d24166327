import * as path from 'node:path';
import { Command, Option } from 'commander';
import { EXIT, exitCodeHelp, parseArguments } from '../lib/exit-codes';
import { DistError, loadDist } from '../verify/dist';
import type { DistObject, K8sObject } from '../verify/model';
import { APPLY_TIMEOUT_MS, GET_TIMEOUT_MS, Kubectl, REQUEST_TIMEOUT } from './kubectl';
import {
  asList,
  describeObject,
  FIELD_MANAGER,
  type FieldChange,
  fieldChanges,
  formatChange,
  immutableStatefulSetFields,
  labelSelector,
  listItems,
  objectKey,
  planStatefulSets,
  readLive,
  type StatefulSetPlan,
} from './live-changes';

// `npm run diff`: what `npm run deploy` would change, like `kubectl diff` and helm-diff: dist/ applied
// server-side as a dry run against the live cluster, object by object, with the pods that restart and
// the changes the API refuses in place.

const HELP_AFTER = `
For every object of dist/: created, changed (each field, old -> new; server-managed metadata and status
are ignored) or unchanged, as the API server would store it (\`kubectl apply --server-side --dry-run=server
--field-manager=${FIELD_MANAGER}\`); the pods that restart (a StatefulSet whose pod template changes rolls
them; a Job with a new content-hashed name runs); the changes the API refuses in place, each with why and
the remedy (npm run deploy carries out growing claims; it refuses the rest).

${exitCodeHelp('diff')}`;

interface DiffOptions {
  readonly dist: string;
  readonly context?: string;
  readonly output: 'human' | 'json';
}

// The first call also proves the cluster answers: bounded so that an unreachable one is exit 2 within 10 s.
const FIRST_CALL_TIMEOUT_MS = 7_000;

type Action = 'created' | 'changed' | 'unchanged' | 'refused';

interface ObjectDiff {
  readonly object: K8sObject;
  readonly file: string;
  readonly action: Action;
  readonly changes: readonly FieldChange[];
}

/** A change the API refuses: an immutable field of a StatefulSet, or whatever else the dry run refused. */
interface Refusal extends Partial<FieldChange> {
  readonly object: K8sObject;
  readonly file: string;
  readonly why: string;
  readonly remedy: string;
  readonly carriedOutByDeploy: boolean;
}

interface Restart {
  /** `pod/kafka-0` or `job/kafka-topics-f18da73f60`. */
  readonly what: string;
  readonly namespace: string;
  readonly why: string;
}

interface Report {
  readonly objects: ObjectDiff[];
  readonly refused: Refusal[];
  readonly restarts: Restart[];
}

class CouldNotCheck extends Error {}

// Written by the API server, never by a manifest: left out of every comparison.
const SERVER_METADATA = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields'];

/** An object less its status and the metadata the server writes. */
function withoutServerFields(object: K8sObject): Record<string, unknown> {
  const { status: _status, metadata, ...rest } = object;
  return { ...rest, metadata: Object.fromEntries(Object.entries(metadata).filter(([key]) => !SERVER_METADATA.includes(key))) };
}

/**
 * Every object of `objects` applied as a dry run, by objectKey: the object as the server would store it,
 * or the API's refusal. One refusal fails the whole batch, and kubectl then prints no object at all: a
 * failed batch is halved until the refused objects stand alone.
 */
function dryRun(kubectl: Kubectl, objects: readonly K8sObject[]): Map<string, { stored?: K8sObject; refusal?: string }> {
  const args = ['apply', '--server-side', '--dry-run=server', `--field-manager=${FIELD_MANAGER}`, '-f', '-', '-o', 'json', REQUEST_TIMEOUT];
  const result = kubectl.run(args, APPLY_TIMEOUT_MS, JSON.stringify(asList(objects)));
  if (result.ok) return new Map(listItems(JSON.parse(result.stdout)).map((stored) => [objectKey(stored), { stored }]));
  if (objects.length === 1) return new Map([[objectKey(objects[0]), { refusal: result.stderr.trim().split('\n')[0] || result.reason }]]);
  const half = Math.ceil(objects.length / 2);
  return new Map([...dryRun(kubectl, objects.slice(0, half)), ...dryRun(kubectl, objects.slice(half))]);
}

/** What to do about a dry run the API refused (other than an immutable StatefulSet field). */
function remedyFor(refusal: string, file: string, distDir: string): string {
  if (/conflict/i.test(refusal)) {
    return (
      'npm run deploy would stop here: another field manager owns these fields; to take them over: ' +
      `\`kubectl apply --server-side --force-conflicts --field-manager=${FIELD_MANAGER} -f ${path.join(distDir, file)}\``
    );
  }
  return 'npm run deploy would stop at this object: fix the cause, then `npm run diff` again';
}

/** The pods of a StatefulSet that a changed pod template rolls: those it keeps (ordinal < replicas). */
function rolledPods(kubectl: Kubectl, desired: K8sObject, live: K8sObject): Restart[] {
  const { name, namespace = 'default' } = live.metadata;
  const pods = kubectl.json<K8sObject>(['get', 'pods', '-n', namespace, '-l', labelSelector(live), REQUEST_TIMEOUT], GET_TIMEOUT_MS);
  if (pods.reason) throw new CouldNotCheck(`listing the pods of statefulset/${name} in ${namespace}: ${pods.reason}`);
  const replicas = desired.spec?.replicas ?? 1;
  return listItems(pods.value)
    .map((pod) => ({ pod: pod.metadata.name, ordinal: Number(new RegExp(`^${name}-(\\d+)$`).exec(pod.metadata.name)?.[1] ?? Number.NaN) }))
    .filter(({ ordinal }) => ordinal < replicas)
    .sort((a, b) => a.ordinal - b.ordinal)
    .map(({ pod }) => ({ what: `pod/${pod}`, namespace, why: `the pod template of statefulset/${name} changes (rolling update)` }));
}

/** For a StatefulSet whose immutable fields change: the rest of it, dry-run with the live immutable fields. */
function withLiveImmutableFields(desired: K8sObject, plan: StatefulSetPlan | undefined): K8sObject {
  return plan ? { ...desired, spec: { ...desired.spec, ...immutableStatefulSetFields(plan.live) } } : desired;
}

function compare(kubectl: Kubectl, items: readonly DistObject[], distDir: string): Report {
  const objects = items.map((item) => item.object);
  const read = readLive(kubectl, objects, FIRST_CALL_TIMEOUT_MS);
  if (!read.live) throw new CouldNotCheck(read.reason);
  const live = read.live;
  const planned = planStatefulSets(kubectl, objects, live);
  if (planned.reason) throw new CouldNotCheck(planned.reason);
  const planOf = (object: K8sObject) => planned.plans.find((plan) => plan.desired === object);

  // Objects in a namespace dist/ creates can be dry-run only once it exists: until then they are created.
  const namespacesOfDist = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));
  const namespaceMissing = (object: K8sObject) => {
    const namespace = object.metadata.namespace;
    return namespace !== undefined && namespacesOfDist.has(namespace) && !live.has(objectKey({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }));
  };
  const checkable = objects.filter((object) => !namespaceMissing(object));
  const dryRuns = dryRun(kubectl, checkable.map((object) => withLiveImmutableFields(object, planOf(object))));

  const report: Report = { objects: [], refused: [], restarts: [] };
  for (const { object, file } of items) {
    const current = live.get(objectKey(object));
    const outcome = dryRuns.get(objectKey(object));
    const immutable = planOf(object)?.changes ?? [];
    for (const { path, from, to, why, remedy, carriedOut } of immutable) {
      report.refused.push({ object, file, path, from, to, why, remedy, carriedOutByDeploy: carriedOut });
    }
    if (outcome?.refusal) {
      report.objects.push({ object, file, action: 'refused', changes: [] });
      report.refused.push({ object, file, why: outcome.refusal, remedy: remedyFor(outcome.refusal, file, distDir), carriedOutByDeploy: false });
      continue;
    }
    if (!current) {
      report.objects.push({ object, file, action: 'created', changes: [] });
      if (object.kind === 'Job') report.restarts.push({ what: `job/${object.metadata.name}`, namespace: object.metadata.namespace ?? 'default', why: 'a new Job (content-hashed name): it runs' });
      continue;
    }
    const changes = [...fieldChanges(withoutServerFields(current), withoutServerFields(outcome!.stored!)), ...immutable.map(({ path, from, to }) => ({ path, from, to }))];
    report.objects.push({ object, file, action: changes.length > 0 ? 'changed' : 'unchanged', changes });
    if (object.kind === 'StatefulSet' && changes.some((change) => change.path.startsWith('spec.template'))) {
      report.restarts.push(...rolledPods(kubectl, object, current));
    }
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// output

const SIGN: Record<Action, string> = { created: '+', changed: '~', unchanged: '=', refused: '✗' };

function count(report: Report, action: Action): number {
  return report.objects.filter((entry) => entry.action === action).length;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function printHuman(report: Report, header: string): void {
  console.log(header);
  for (const entry of report.objects.filter((e) => e.action !== 'unchanged')) {
    console.log(`  ${SIGN[entry.action]} ${describeObject(entry.object)} (${entry.file}): ${entry.action}`);
    for (const change of entry.changes) console.log(`      ${formatChange(change)}`);
  }
  const unchanged = count(report, 'unchanged');
  if (unchanged > 0) console.log(`  = ${plural(unchanged, 'object')} unchanged`);
  if (report.restarts.length > 0) {
    console.log('pods that restart, Jobs that run:');
    for (const restart of report.restarts) console.log(`  ${restart.what} in ${restart.namespace}: ${restart.why}`);
  }
  if (report.refused.length > 0) {
    console.log('changes the API refuses in place (↻ npm run deploy carries it out, ✗ npm run deploy refuses it too):');
    for (const refusal of report.refused) {
      const field = refusal.path ? `: ${formatChange(refusal as FieldChange)}` : '';
      console.log(`  ${refusal.carriedOutByDeploy ? '↻' : '✗'} ${describeObject(refusal.object)}${field}`);
      console.log(`      why: ${refusal.why}`);
      console.log(`      remedy: ${refusal.remedy}`);
    }
  }
  console.log(summary(report));
}

function summary(report: Report): string {
  const unchanged = count(report, 'unchanged');
  const changing = report.objects.length - unchanged;
  if (changing === 0) return 'no changes';
  const actions = (['created', 'changed', 'refused'] as const).filter((action) => count(report, action) > 0).map((action) => `${count(report, action)} ${action}`);
  const parts = [`${plural(changing, 'object')} change: ${actions.join(', ')}; ${unchanged} unchanged`];
  if (report.refused.length > 0) {
    const byDeploy = report.refused.filter((refusal) => refusal.carriedOutByDeploy).length;
    parts.push(`${plural(report.refused.length, 'change')} the API refuses in place (npm run deploy carries out ${byDeploy}, refuses ${report.refused.length - byDeploy})`);
  }
  const pods = report.restarts.filter((restart) => restart.what.startsWith('pod/')).length;
  const jobs = report.restarts.length - pods;
  parts.push(pods + jobs === 0 ? 'No pod restarts' : `${plural(pods, 'pod')} restart, ${plural(jobs, 'Job')} run`);
  return `${parts.join('. ')}.`;
}

function objectRef({ object, file }: { object: K8sObject; file: string }) {
  return { kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, file };
}

function toJson(report: Report, context: string, dist: string): unknown {
  return {
    context,
    dist,
    objects: report.objects.map((entry) => ({ ...objectRef(entry), action: entry.action, changes: entry.changes })),
    restarts: report.restarts,
    refused: report.refused.map(({ object, file, ...refusal }) => ({ ...objectRef({ object, file }), ...refusal })),
    summary: Object.fromEntries((['created', 'changed', 'unchanged', 'refused'] as const).map((action) => [action, count(report, action)])),
  };
}

// ---------------------------------------------------------------------------------------------

const program = new Command('diff')
  .description('Show what `npm run deploy` would change on the cluster: a server-side dry run of dist/ against the live objects.')
  .option('-d, --dist <dir>', 'directory of synthesized manifests', 'dist')
  .option('--context <name>', 'kubectl context to compare with (default: the current one)')
  .addOption(new Option('-o, --output <format>', 'output format').choices(['human', 'json']).default('human'))
  .addHelpText('after', HELP_AFTER)
  .showHelpAfterError();

function main(): number {
  const parsed = parseArguments(program);
  if (parsed !== undefined) return parsed;
  const options = program.opts<DiffOptions>();
  const kubectl = new Kubectl(options.context);
  const context = options.context ?? kubectl.run(['config', 'current-context'], GET_TIMEOUT_MS).stdout.trim();
  const couldNotCheck = (reason: string) => {
    const message = `could not check ${options.dist} against context ${context || '(none: no current kubectl context)'}: ${reason}`;
    if (options.output === 'json') console.log(JSON.stringify({ context, dist: options.dist, error: message }, null, 2));
    console.error(`error: ${message}`);
    return EXIT.couldNotCheck;
  };
  let report: Report;
  try {
    const dist = loadDist(options.dist);
    if (dist.malformed.length > 0) return couldNotCheck(`${dist.malformed[0].file}: ${dist.malformed[0].reason} (\`npm run verify -- --offline\`)`);
    if (dist.objects.length === 0) return couldNotCheck(`${dist.dir} holds no manifests (\`npm run synth\`)`);
    report = compare(kubectl, dist.objects, dist.dir);
  } catch (error) {
    if (error instanceof DistError || error instanceof CouldNotCheck) return couldNotCheck(error.message);
    throw error;
  }
  if (options.output === 'json') console.log(JSON.stringify(toJson(report, context, options.dist), null, 2));
  else printHuman(report, `diff: ${options.dist} against context ${context} (server-side dry run as field manager ${FIELD_MANAGER})`);
  return report.objects.every((entry) => entry.action === 'unchanged') ? EXIT.ok : EXIT.findings;
}

try {
  process.exitCode = main();
} catch (error) {
  console.error(`error: diff failed unexpectedly: ${(error as Error).stack ?? error}`);
  process.exitCode = EXIT.couldNotCheck;
}
