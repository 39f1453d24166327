import { isDeepStrictEqual } from 'node:util';
import { parseQuantity } from '../lib/config/quantity';
import type { K8sObject } from '../verify/model';
import { GET_TIMEOUT_MS, type Kubectl, REQUEST_TIMEOUT } from './kubectl';

// What applying dist/ changes on a live cluster, and which of those changes the API server refuses:
// the analysis `npm run diff` reports and `npm run deploy` acts on, written once for both.

/** The field manager of every server-side apply (deploy) and dry run (diff). */
export const FIELD_MANAGER = 'learnflow-deploy';

/** One changed field, as a person reads it (`spec.template.spec.containers[kafka].image`); undefined: absent. */
export interface FieldChange {
  readonly path: string;
  readonly from?: unknown;
  readonly to?: unknown;
}

/** `statefulset/kafka in kafka`, the way kubectl names objects. */
export function describeObject(object: K8sObject): string {
  const namespace = object.metadata.namespace;
  return `${object.kind.toLowerCase()}/${object.metadata.name}${namespace ? ` in ${namespace}` : ''}`;
}

/** Identity of an object across dist/ and the cluster: API group, kind, namespace, name. */
export function objectKey(object: K8sObject): string {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : '';
  return [group, object.kind, object.metadata.namespace ?? '', object.metadata.name].join('/');
}

export function asList(objects: readonly K8sObject[]): K8sObject {
  return { apiVersion: 'v1', kind: 'List', metadata: { name: '' }, items: objects };
}

/** The items of what kubectl printed for -o json: a List, or the object itself when there was one. */
export function listItems(printed: K8sObject | undefined): K8sObject[] {
  if (!printed) return [];
  return printed.kind === 'List' ? (printed.items ?? []) : [printed];
}

/** The live counterparts of `objects` by objectKey (absent ones are missing), or why they cannot be read. */
export function readLive(kubectl: Kubectl, objects: readonly K8sObject[], timeoutMs = GET_TIMEOUT_MS): { live?: Map<string, K8sObject>; reason: string } {
  // kubectl get needs only each object's identity.
  const identities = objects.map(({ apiVersion, kind, metadata }) => ({ apiVersion, kind, metadata: { name: metadata.name, namespace: metadata.namespace } }));
  const listed = kubectl.json<K8sObject>(['get', '--ignore-not-found', '-f', '-', REQUEST_TIMEOUT], timeoutMs, JSON.stringify(asList(identities)));
  if (listed.reason) return { reason: listed.reason };
  return { live: new Map(listItems(listed.value).map((object) => [objectKey(object), object])), reason: '' };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The names of a list whose items all have a distinct name (containers, env and ports; claim templates by metadata.name). */
function namesOf(list: readonly unknown[]): string[] | undefined {
  const names = list.map((item) => (isRecord(item) ? (item.name ?? (isRecord(item.metadata) ? item.metadata.name : undefined)) : undefined));
  if (names.some((name) => typeof name !== 'string') || new Set(names).size !== names.length) return undefined;
  return names as string[];
}

function keyPath(path: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;
}

/** The leaf fields that differ between two values; lists of named items are matched by name. */
export function fieldChanges(from: unknown, to: unknown, path = ''): FieldChange[] {
  if (isDeepStrictEqual(from, to)) return [];
  if (isRecord(from) && isRecord(to)) {
    const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])];
    return keys.flatMap((key) => fieldChanges(from[key], to[key], keyPath(path, key)));
  }
  if (Array.isArray(from) && Array.isArray(to)) {
    const [fromNames, toNames] = [namesOf(from), namesOf(to)];
    if (fromNames && toNames) {
      const names = [...new Set([...fromNames, ...toNames])];
      return names.flatMap((name) => fieldChanges(from[fromNames.indexOf(name)], to[toNames.indexOf(name)], `${path}[${name}]`));
    }
    if (from.length === to.length) return from.flatMap((item, index) => fieldChanges(item, to[index], `${path}[${index}]`));
  }
  return [{ path, from, to }];
}

/** A value on one line: strings bare unless they hold blanks, everything else as JSON, long values cut. */
export function formatValue(value: unknown): string {
  if (value === undefined) return '(none)';
  const text = typeof value === 'string' && /^\S+$/.test(value) ? value : JSON.stringify(value);
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

export function formatChange(change: FieldChange): string {
  return `${change.path}: ${formatValue(change.from)} -> ${formatValue(change.to)}`;
}

// ---------------------------------------------------------------------------------------------
// StatefulSets: what the API refuses to change in place, and what deploy does about it

// The spec fields of a StatefulSet an update may change (k8s.io/kubernetes 1.34,
// pkg/apis/apps/validation: ValidateStatefulSetUpdate); any other difference is "Forbidden".
const MUTABLE_STATEFULSET_FIELDS = ['replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'];

/** The spec fields of a StatefulSet that only a new StatefulSet can change. */
export function immutableStatefulSetFields(statefulSet: K8sObject): Record<string, unknown> {
  return Object.fromEntries(Object.entries(statefulSet.spec ?? {}).filter(([key]) => !MUTABLE_STATEFULSET_FIELDS.includes(key)));
}

/** A change of a live StatefulSet the API refuses in place: why, and what carries it out. */
export interface ImmutableChange extends FieldChange {
  readonly why: string;
  /** How `npm run deploy` carries it out, or, when it refuses to, the way by hand. */
  readonly remedy: string;
  /** Whether `npm run deploy` carries it out (expanding claims, re-creating the StatefulSet with --cascade=orphan). */
  readonly carriedOut: boolean;
}

/** A claim of a live StatefulSet that deploy grows to the size of the new claim template. */
export interface ClaimExpansion {
  readonly claim: string;
  readonly from: string;
  readonly to: string;
}

/** The immutable changes of one live StatefulSet that dist/ changes, and the claims that grow with them. */
export interface StatefulSetPlan {
  readonly desired: K8sObject;
  readonly live: K8sObject;
  readonly changes: readonly ImmutableChange[];
  readonly expansions: readonly ClaimExpansion[];
}

const CLAIM_TEMPLATE = /^spec\.volumeClaimTemplates\[/;
const CLAIM_STORAGE = /^spec\.volumeClaimTemplates\[([^\]]+)\]\.spec\.resources\.requests\.storage$/;

interface StorageClass extends K8sObject {
  readonly allowVolumeExpansion?: boolean;
}

/** Everything a plan needs to know about a StatefulSet's claims. */
interface ClaimContext {
  readonly statefulSet: string;
  readonly namespace: string;
  /** The label selector of the live StatefulSet, which its claims carry too. */
  readonly selector: string;
  readonly claims: readonly K8sObject[];
  readonly storageClasses: readonly StorageClass[];
}

function byHand(context: ClaimContext, keep: string): string {
  const { statefulSet, namespace, selector } = context;
  return (
    `${keep}, or move the data by hand: back it up, \`kubectl delete statefulset ${statefulSet} -n ${namespace}\`, ` +
    `\`kubectl delete persistentvolumeclaims -n ${namespace} -l ${selector}\`, \`npm run deploy\`, restore`
  );
}

/** The claims of a StatefulSet made from one claim template: <template>-<statefulset>-<ordinal>. */
function claimsOf(context: ClaimContext, template: string): K8sObject[] {
  const name = new RegExp(`^${template}-${context.statefulSet}-\\d+$`);
  return context.claims.filter((claim) => name.test(claim.metadata.name));
}

/** A claim template asks for more storage: every existing claim grows first, if its StorageClass allows it. */
function judgeGrowth(change: FieldChange, template: string, context: ClaimContext): { change: ImmutableChange; expansions: ClaimExpansion[] } {
  const to = String(change.to);
  const growing = claimsOf(context, template).filter((claim) => parseQuantity(claim.spec?.resources?.requests?.storage ?? '0') < parseQuantity(to));
  const expandable = (claim: K8sObject) => context.storageClasses.find((c) => c.metadata.name === claim.spec?.storageClassName)?.allowVolumeExpansion === true;
  const stuck = growing.filter((claim) => !expandable(claim));
  if (stuck.length > 0) {
    const classes = [...new Set(stuck.map((claim) => String(claim.spec?.storageClassName ?? '(none)')))];
    return {
      change: {
        ...change,
        carriedOut: false,
        why: `StorageClass ${classes.join(', ')} of ${stuck.map((claim) => claim.metadata.name).join(', ')} does not allow volume expansion (allowVolumeExpansion is not true), so the claims cannot grow`,
        remedy: byHand(
          context,
          `if the class's provisioner can resize volumes, \`kubectl patch storageclass ${classes[0]} -p '{"allowVolumeExpansion":true}'\` and \`npm run deploy\`; otherwise keep ${formatValue(change.from)}`,
        ),
      },
      expansions: [],
    };
  }
  const expansions = growing.map((claim) => ({ claim: claim.metadata.name, from: String(claim.spec?.resources?.requests?.storage), to }));
  const claims = expansions.length > 0 ? expansions.map((e) => `${e.claim} ${e.from} -> ${e.to}`).join(', ') : 'no claim exists yet';
  return {
    change: {
      ...change,
      carriedOut: true,
      why: 'the claim templates of a StatefulSet cannot change in place (the API refuses the update)',
      remedy: `npm run deploy expands the claims and re-creates the StatefulSet with --cascade=orphan (its pods keep running, its claims stay): ${claims}`,
    },
    expansions,
  };
}

// Kafka settings the API accepts in a pod template but a running cluster does not: a new pod would not join.
const KAFKA_VOTERS = 'KAFKA_CONTROLLER_QUORUM_VOTERS';
const KAFKA_CLUSTER_ID = 'CLUSTER_ID';

/** The env values of the containers that run Kafka nodes (KAFKA_PROCESS_ROLES), by container. */
function kafkaSettings(statefulSet: K8sObject): Record<string, Record<string, unknown>> {
  const containers = (statefulSet.spec?.template?.spec?.containers ?? []) as { name: string; env?: { name: string; value?: unknown }[] }[];
  return Object.fromEntries(
    containers
      .filter((container) => (container.env ?? []).some((e) => e.name === 'KAFKA_PROCESS_ROLES'))
      .map((container) => [container.name, Object.fromEntries((container.env ?? []).filter((e) => e.name === KAFKA_VOTERS || e.name === KAFKA_CLUSTER_ID).map((e) => [e.name, e.value]))]),
  );
}

/** A new voter set or cluster id for running Kafka nodes: the API takes it, the cluster would not survive it. */
function kafkaIdentityChanges(live: K8sObject, desired: K8sObject): FieldChange[] {
  const [current, wanted] = [kafkaSettings(live), kafkaSettings(desired)];
  return Object.keys(wanted)
    .filter((container) => current[container] !== undefined)
    .flatMap((container) =>
      [KAFKA_VOTERS, KAFKA_CLUSTER_ID]
        .filter((name) => current[container][name] !== wanted[container][name])
        .map((name) => ({ path: `spec.template.spec.containers[${container}].env[${name}].value`, from: current[container][name], to: wanted[container][name] })),
    );
}

/** Why deploy refuses an immutable change it cannot carry out safely, and the way by hand. */
function judgeRefused(change: FieldChange, context: ClaimContext): ImmutableChange {
  const { statefulSet, namespace } = context;
  const refuse = (why: string, remedy: string): ImmutableChange => ({ ...change, carriedOut: false, why, remedy });
  if (change.path.includes(`.env[${KAFKA_VOTERS}]`)) {
    return refuse(
      'the KRaft voter set is static (controller.quorum.voters: the stock image formats storage without the --standalone or --initial-controllers of a dynamic quorum), and running voters cannot take a new one: the new voters would start a second, empty quorum beside the old one',
      'keep kafka.controllers, kafka.dedicatedControllers and kafka.name as installed (kafka.brokers may change: it never touches the voters); to change the voter set, follow the README runbook "Changing the KRaft voter set"',
    );
  }
  if (change.path.includes(`.env[${KAFKA_CLUSTER_ID}]`)) {
    return refuse(
      `every Kafka volume of ${statefulSet} is formatted for cluster ${formatValue(change.from)}: its pods would refuse to start with another cluster id`,
      `set kafka.clusterId: ${formatValue(change.from)} in the config (an install keeps its cluster id for life)`,
    );
  }
  const inTemplate = CLAIM_TEMPLATE.test(change.path);
  if (CLAIM_STORAGE.test(change.path)) {
    return refuse('a PersistentVolumeClaim can only grow: Kubernetes refuses a smaller request, and the data might not fit', byHand(context, `keep ${formatValue(change.from)} in the config`));
  }
  if (inTemplate && change.path.endsWith('.spec.storageClassName')) {
    return refuse(
      `the storage class of a bound claim cannot change: the existing claims would stay on ${formatValue(change.from)} while new replicas got ${formatValue(change.to)}`,
      byHand(context, change.from === undefined ? 'leave storage.storageClassName unset in the config' : `keep storage.storageClassName ${formatValue(change.from)} in the config`),
    );
  }
  if (inTemplate && change.path.includes('.spec.accessModes')) {
    return refuse('the access modes of a bound claim cannot change (its volume was provisioned for them)', byHand(context, `keep the access modes ${formatValue(change.from)}`));
  }
  if (change.path.startsWith('spec.selector')) {
    return refuse(
      'the running pods carry the old labels: a StatefulSet with the new selector would not adopt them, and would start pods of the same names beside them',
      `\`kubectl delete statefulset ${statefulSet} -n ${namespace}\` (its pods stop; its claims stay), then \`npm run deploy\` starts new pods on the same claims`,
    );
  }
  return refuse(
    `${change.path} of a StatefulSet cannot change in place, and npm run deploy knows no safe way to change it`,
    `if the running pods and claims can stay as they are: \`kubectl delete statefulset ${statefulSet} -n ${namespace} --cascade=orphan\` (its pods keep running), then \`npm run deploy\``,
  );
}

/**
 * The immutable fields dist/ changes. Fields dist/ leaves out keep their live (defaulted) value; a storage
 * request written another way (10240Mi for 10Gi) is no change.
 */
function immutableChanges(live: K8sObject, desired: K8sObject): FieldChange[] {
  const wanted = immutableStatefulSetFields(desired);
  const current = Object.fromEntries(Object.keys(wanted).map((key) => [key, live.spec?.[key]]));
  return fieldChanges(current, wanted, 'spec').filter(
    (change) => !(CLAIM_STORAGE.test(change.path) && parseQuantity(String(change.from)) === parseQuantity(String(change.to))),
  );
}

function planStatefulSet(desired: K8sObject, live: K8sObject, changes: readonly FieldChange[], context: ClaimContext): StatefulSetPlan {
  const judged: ImmutableChange[] = [];
  const expansions: ClaimExpansion[] = [];
  for (const change of changes) {
    const template = CLAIM_STORAGE.exec(change.path)?.[1];
    if (template && parseQuantity(String(change.to)) > parseQuantity(String(change.from))) {
      const growth = judgeGrowth(change, template, context);
      judged.push(growth.change);
      expansions.push(...growth.expansions);
    } else {
      judged.push(judgeRefused(change, context));
    }
  }
  return { desired, live, changes: judged, expansions };
}

/** `-l` for a label selector's matchLabels. */
export function labelSelector(statefulSet: K8sObject): string {
  return Object.entries((statefulSet.spec?.selector?.matchLabels ?? {}) as Record<string, string>)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

/**
 * For every StatefulSet of dist/ that is live with other immutable fields, what the API refuses and
 * what deploy does about it. Reads the claims and StorageClasses only when a claim template grows.
 */
export function planStatefulSets(kubectl: Kubectl, desired: readonly K8sObject[], live: ReadonlyMap<string, K8sObject>): { plans: StatefulSetPlan[]; reason: string } {
  const plans: StatefulSetPlan[] = [];
  let storageClasses: StorageClass[] | undefined;
  for (const object of desired.filter((o) => o.kind === 'StatefulSet')) {
    const current = live.get(objectKey(object));
    const changes = current ? [...immutableChanges(current, object), ...kafkaIdentityChanges(current, object)] : [];
    if (!current || changes.length === 0) continue;
    const namespace = current.metadata.namespace ?? 'default';
    let context: ClaimContext = { statefulSet: current.metadata.name, namespace, selector: labelSelector(current), claims: [], storageClasses: [] };
    if (changes.some((change) => CLAIM_STORAGE.test(change.path))) {
      const claims = kubectl.json<K8sObject>(['get', 'persistentvolumeclaims', '-n', namespace, '-l', context.selector, REQUEST_TIMEOUT], GET_TIMEOUT_MS);
      if (claims.reason) return { plans, reason: `listing the claims of statefulset/${context.statefulSet} in ${namespace}: ${claims.reason}` };
      if (!storageClasses) {
        const classes = kubectl.json<K8sObject>(['get', 'storageclasses', REQUEST_TIMEOUT], GET_TIMEOUT_MS);
        if (classes.reason) return { plans, reason: `listing the StorageClasses: ${classes.reason}` };
        storageClasses = listItems(classes.value) as StorageClass[];
      }
      context = { ...context, claims: listItems(claims.value), storageClasses };
    }
    plans.push(planStatefulSet(object, current, changes, context));
  }
  return { plans, reason: '' };
}
