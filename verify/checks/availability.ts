import type { StaticContext } from '../context';
import type { Dist } from '../dist';
import { topicsFiles } from '../kafka-topics';
import { type Check, type CheckResult, type DistObject, fail, formatRef, pass, refOf, skip, warn } from '../model';
import { profileOf, unknownProfile } from '../profile';
import { kafkaRoles, kafkaStatefulSets, namespaceLabels, namespaceOf, objectsOfKind, type PodTemplate, podTemplates, replicasOf, selects } from '../workloads';
import { brokerMinInsyncReplicas } from './kafka';

/**
 * The pods a budget's workload may lose at once and keep working: a KRaft quorum keeps a majority of
 * voters; a topic with replication factor RF keeps accepting acks=all writes with min.insync.replicas
 * replicas, so RF - min.insync.replicas brokers may be down; anything else keeps one replica up.
 */
function safeDisruptions(dist: Dist, template: PodTemplate, replicas: number): { limit: number; why: string } {
  const bounds = [{ limit: replicas - 1, why: `one of ${replicas} replica(s) stays up` }];
  const item = template.owner;
  if (kafkaStatefulSets(dist).includes(item)) {
    const roles = kafkaRoles(item);
    if (roles.includes('controller')) {
      const majority = Math.floor(replicas / 2) + 1;
      bounds.push({ limit: replicas - majority, why: `the KRaft quorum of ${replicas} voter(s) needs ${majority}` });
    }
    if (roles.includes('broker')) {
      const fallback = brokerMinInsyncReplicas(dist);
      for (const topic of topicsFiles(dist).flatMap((file) => file.topics)) {
        if (topic.replicationFactor <= 1) continue;
        const minIsr = Number(topic.configs['min.insync.replicas'] ?? fallback);
        bounds.push({ limit: topic.replicationFactor - minIsr, why: `topic ${topic.name} (replication factor ${topic.replicationFactor}, min.insync.replicas ${minIsr}) fails acks=all producers beyond that` });
      }
    }
  }
  return bounds.reduce((tightest, bound) => (bound.limit < tightest.limit ? bound : tightest));
}

/**
 * Pods a PodDisruptionBudget lets an eviction take down at once. A percentage of either field rounds up
 * to whole pods (kubernetes.io/docs/tasks/run-application/configure-pdb, "Rounding logic when
 * specifying percentages").
 */
function allowedDisruptions(spec: Record<string, any>, replicas: number): number | string {
  const scaled = (value: unknown): number | undefined => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
    const percent = typeof value === 'string' ? /^(\d+)%$/.exec(value) : null;
    return percent ? Math.ceil((replicas * Number(percent[1])) / 100) : undefined;
  };
  const { maxUnavailable, minAvailable } = spec;
  if ((maxUnavailable === undefined) === (minAvailable === undefined)) {
    return `spec.maxUnavailable ${JSON.stringify(maxUnavailable) ?? 'unset'}, spec.minAvailable ${JSON.stringify(minAvailable) ?? 'unset'}: a budget needs exactly one of the two`;
  }
  if (maxUnavailable !== undefined) {
    const max = scaled(maxUnavailable);
    return max === undefined ? `spec.maxUnavailable ${JSON.stringify(maxUnavailable)} is not a count or percentage` : Math.min(max, replicas);
  }
  const min = scaled(minAvailable);
  return min === undefined ? `spec.minAvailable ${JSON.stringify(minAvailable)} is not a count or percentage` : Math.max(0, replicas - min);
}

export const pdbAvailability: Check<StaticContext> = {
  id: 'pdb-availability',
  description:
    'every multi-replica workload has a PodDisruptionBudget, and each budget lets a drain proceed (at least 1 eviction) without losing the KRaft quorum, an acks=all topic or the last replica',
  component: 'platform',
  remediation:
    'select the workload\'s pods with one PodDisruptionBudget and set maxUnavailable: 1 (never minAvailable equal to replicas, which blocks every drain)',
  run: ({ dist }) => {
    const templates = podTemplates(dist).filter((template) => template.longRunning);
    const budgets = objectsOfKind(dist, 'PodDisruptionBudget');
    const results: CheckResult[] = [];
    const covered = new Map<PodTemplate, DistObject[]>();
    for (const budget of budgets) {
      const ref = refOf(budget);
      const at = `${formatRef(ref)} (${budget.file})`;
      const selected = templates.filter((template) => namespaceOf(template.owner) === namespaceOf(budget) && selects(budget.object.spec?.selector, template.labels));
      if (selected.length === 0) {
        results.push(fail([ref], `${at}: spec.selector ${JSON.stringify(budget.object.spec?.selector ?? null)} selects no pods of a workload in namespace ${namespaceOf(budget)} in dist/, so it protects nothing`));
        continue;
      }
      for (const template of selected) covered.set(template, [...(covered.get(template) ?? []), budget]);
      const refs = [ref, ...selected.map((template) => refOf(template.owner))];
      const replicas = selected.reduce((sum, template) => sum + replicasOf(template.owner), 0);
      const allowed = allowedDisruptions(budget.object.spec ?? {}, replicas);
      const workload = selected.map((template) => formatRef(refOf(template.owner))).join(', ');
      const field = ['maxUnavailable', 'minAvailable'].filter((key) => budget.object.spec?.[key] !== undefined).map((key) => `spec.${key} ${JSON.stringify(budget.object.spec[key])}`).join(', ');
      if (typeof allowed === 'string') {
        results.push(fail(refs, `${at}: ${allowed}`));
      } else if (allowed === 0) {
        results.push(fail(refs, `${at}: ${field} allows 0 of ${replicas} pod(s) of ${workload} to be evicted: every node drain and cluster upgrade blocks forever`));
      } else if (replicas === 1) {
        results.push(pass(refs, `${at}: ${workload} has a single replica (no availability to keep); eviction allowed, so drains proceed`));
      } else {
        const safe = selected.map((template) => safeDisruptions(dist, template, replicasOf(template.owner))).reduce((a, b) => (b.limit < a.limit ? b : a));
        results.push(
          allowed > safe.limit
            ? fail(refs, `${at}: ${field} allows ${allowed} of ${replicas} pod(s) of ${workload} down at once, but ${safe.why}: at most ${safe.limit}`)
            : pass(refs, `${at}: ${field} allows ${allowed} of ${replicas} pod(s) of ${workload} down at once (${safe.why})`),
        );
      }
    }
    // The eviction API refuses a pod that more than one budget selects (kubernetes/kubernetes
    // pkg/registry/core/pod/storage/eviction.go: "This pod has more than one PodDisruptionBudget, which the
    // eviction subresource does not support.").
    for (const [template, several] of [...covered].filter(([, list]) => list.length > 1)) {
      const ref = refOf(template.owner);
      const names = several.map((budget) => `${formatRef(refOf(budget))} (${budget.file}, spec.selector ${JSON.stringify(budget.object.spec?.selector)})`).join(' and ');
      results.push(fail([ref, ...several.map(refOf)], `${formatRef(ref)} (${template.owner.file}): its pods are selected by ${several.length} budgets, ${names}: the eviction API refuses a pod with more than one PodDisruptionBudget, so every drain blocks`));
    }
    for (const template of templates.filter((t) => !covered.has(t) && replicasOf(t.owner) > 1)) {
      const ref = refOf(template.owner);
      results.push(fail([ref], `${formatRef(ref)} (${template.owner.file}): ${replicasOf(template.owner)} replicas and no PodDisruptionBudget: a drain may evict them all at once`));
    }
    return results.length > 0 ? results : [skip('no PodDisruptionBudgets and no multi-replica workloads in dist/')];
  },
};

const HOSTNAME_TOPOLOGY = 'kubernetes.io/hostname';

export const podAntiAffinity: Check<StaticContext> = {
  id: 'pod-anti-affinity',
  description: 'in production, the replicas of every multi-replica workload are kept on different nodes by required pod anti-affinity (topologyKey kubernetes.io/hostname)',
  component: 'platform',
  remediation:
    'add spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution with topologyKey kubernetes.io/hostname and a labelSelector matching the pods (preferred only outside production)',
  run: ({ dist }) => {
    const { name: profile } = profileOf(dist);
    const templates = podTemplates(dist).filter((template) => template.longRunning);
    if (templates.length === 0) return [skip('no long-running workloads in dist/')];
    const results = templates.map((template) => {
      const ref = refOf(template.owner);
      const at = `${formatRef(ref)} (${template.owner.file})`;
      if (replicasOf(template.owner) <= 1) return pass([ref], `${at}: a single replica, nothing to spread`);
      const antiAffinity = template.spec.affinity?.podAntiAffinity ?? {};
      // A term counts pods of the namespaces it lists and of those its namespaceSelector matches; neither set
      // means the pod's own namespace (PodAffinityTerm, k8s.io/api/core/v1/types.go).
      const own = namespaceOf(template.owner);
      const coversOwnNamespace = (term: Record<string, any>) => {
        const listed = (term.namespaces ?? []) as string[];
        if (listed.length === 0 && !term.namespaceSelector) return true;
        if (listed.includes(own)) return true;
        const labels = namespaceLabels(dist, own);
        return Boolean(term.namespaceSelector) && labels !== undefined && selects(term.namespaceSelector, labels);
      };
      const spreads = (term: Record<string, any> | undefined) =>
        term?.topologyKey === HOSTNAME_TOPOLOGY && coversOwnNamespace(term) && selects(term.labelSelector, template.labels);
      const required = ((antiAffinity.requiredDuringSchedulingIgnoredDuringExecution ?? []) as Record<string, any>[]).some(spreads);
      const preferred = ((antiAffinity.preferredDuringSchedulingIgnoredDuringExecution ?? []) as { podAffinityTerm?: Record<string, any> }[]).some((entry) => spreads(entry?.podAffinityTerm));
      const replicas = replicasOf(template.owner);
      if (required) return pass([ref], `${at}: ${replicas} replicas on ${replicas} different nodes (required anti-affinity on ${HOSTNAME_TOPOLOGY})`);
      const field = 'spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution';
      if (profile === 'production') {
        return fail([ref], `${at}: profile production, but ${field} has no term on ${HOSTNAME_TOPOLOGY} selecting its pods in namespace ${own} (by labelSelector, and namespaces or namespaceSelector against the Namespace's labels in dist/)${preferred ? ' (only preferred)' : ''}: one node's loss can take several replicas (a KRaft quorum, acks=all replicas)`);
      }
      return preferred
        ? pass([ref], `${at}: preferred anti-affinity on ${HOSTNAME_TOPOLOGY} (profile ${profile ?? 'unknown'}; required in production)`)
        : warn([ref], `${at}: ${replicas} replicas and no pod anti-affinity on ${HOSTNAME_TOPOLOGY}: they may share a node`);
    });
    return [...unknownProfile(profileOf(dist)), ...results];
  },
};
