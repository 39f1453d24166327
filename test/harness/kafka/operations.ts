import type { K8sObject } from '../../support/synth';
import { sleep } from '../processes';
import type { KafkaTestCluster } from './cluster';
import { selects } from './manifests';

// What Kubernetes does to the Kafka pods during day-2 operations, emulated over the harness's pods with
// the settings of dist/: the kubelet's readiness probing, a StatefulSet RollingUpdate, a node drain through
// the Eviction API and its PodDisruptionBudgets.

interface PodState {
  ready: boolean;
  /** When the pod last became Ready. */
  readySince: number;
  failures: number;
  lastOutput: string;
}

/** One line of what happened, with the time since the start of the operation. */
export type EventLog = string[];

/**
 * The kubelet's readiness probing of every pod: each probe round every `periodSeconds` of the Kafka
 * container's probe; a pod turns Ready on one success (successThreshold 1) and not Ready after
 * `failureThreshold` failures in a row. A new pod starts not Ready. Before its Kafka container's startup probe has
 * succeeded (probed from the pod's creation every `periodSeconds` of that probe) no readiness probe runs and the pod
 * is not Ready, as the kubelet does (pkg/kubelet/prober/worker.go: "Disable other probes until container has
 * started"; the pod's Ready condition requires the container started).
 */
export class PodReadiness {
  private readonly states = new Map<string, PodState>();
  /** Each pod's incarnation: a probe of a deleted pod must not count for the pod that replaces it. */
  private readonly generations = new Map<string, number>();
  /** The incarnations (`pod#generation`) whose startup probe is running, and those where it succeeded. */
  private readonly startupProbing = new Set<string>();
  private readonly started = new Set<string>();
  private stopped = false;
  private readonly loop: Promise<void>;
  private readonly periodMs: number;
  private readonly failureThreshold: number;

  constructor(private readonly cluster: KafkaTestCluster) {
    const probe = cluster.manifests.statefulSet.spec.template.spec.containers[0].readinessProbe ?? {};
    this.periodMs = (probe.periodSeconds ?? 10) * 1000;
    this.failureThreshold = probe.failureThreshold ?? 3;
    this.loop = this.run();
  }

  get pods(): string[] {
    return [...this.cluster.brokerPods, ...this.cluster.controllerPods];
  }

  isReady(name: string): boolean {
    return this.states.get(name)?.ready === true;
  }

  /** Ready for at least `ms` (a StatefulSet's minReadySeconds: "available"). */
  isAvailable(name: string, ms: number): boolean {
    const state = this.states.get(name);
    return state?.ready === true && Date.now() - state.readySince >= ms;
  }

  lastOutput(name: string): string {
    return this.states.get(name)?.lastOutput ?? '(not probed yet)';
  }

  /**
   * A pod being deleted, and then deleted: not Ready while it terminates (its sidecar's last sample may still
   * look fresh), and its next incarnation starts not Ready, whatever a probe still running of the old one says.
   * Call it before the deletion and again after.
   */
  forget(name: string): void {
    this.generations.set(name, (this.generations.get(name) ?? 0) + 1);
    this.states.delete(name);
    // The kubelet's startup probe worker of the next incarnation starts with it.
    this.startupProbe(name);
  }

  async waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) {
        throw new Error(`${what} not within ${timeoutMs} ms; probes: ${this.pods.map((p) => `${p}: ${this.lastOutput(p)}`).join(' | ')}`);
      }
      await sleep(250);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const round = Date.now();
      await Promise.all(this.pods.map((name) => this.probe(name)));
      await sleep(Math.max(0, this.periodMs - (Date.now() - round)));
    }
  }

  /** The startup probe of the pod's current incarnation, every period until it succeeds or the pod is replaced. */
  private startupProbe(name: string): void {
    const generation = this.generations.get(name) ?? 0;
    const key = `${name}#${generation}`;
    if (this.startupProbing.has(key)) return;
    this.startupProbing.add(key);
    const current = () => !this.stopped && (this.generations.get(name) ?? 0) === generation;
    void (async () => {
      while (current()) {
        if (await this.cluster.probeStartup(name)) {
          if (current()) this.started.add(key);
          return;
        }
        const periodSeconds = this.cluster.statefulSetOf(name).spec.template.spec.containers[0].startupProbe?.periodSeconds ?? 10;
        await sleep(periodSeconds * 1000);
      }
    })();
  }

  private async probe(name: string): Promise<void> {
    const generation = this.generations.get(name) ?? 0;
    if (!this.started.has(`${name}#${generation}`)) {
      this.startupProbe(name);
      this.states.set(name, { ready: false, readySince: 0, failures: 0, lastOutput: 'startup probe not passed yet: no readiness probe runs' });
      return;
    }
    const result = await this.cluster.probeReadiness(name);
    if ((this.generations.get(name) ?? 0) !== generation) return;
    const state = this.states.get(name) ?? { ready: false, readySince: 0, failures: 0, lastOutput: '' };
    state.lastOutput = result.output;
    if (result.ready) {
      if (!state.ready) state.readySince = Date.now();
      state.ready = true;
      state.failures = 0;
    } else if (++state.failures >= this.failureThreshold || !this.cluster.isRunning(name)) {
      state.ready = false;
    }
    this.states.set(name, state);
  }
}

/**
 * The StatefulSet controller's RollingUpdate of the pods whose revision is not the update revision (after
 * `cluster.applyStatefulSets`), as `updateStatefulSet` in kubernetes/kubernetes
 * pkg/controller/statefulset/stateful_set_control.go (v1.34) carries it out under `podManagementPolicy: Parallel`
 * and the default feature gates: going down from the highest ordinal, it deletes the first pod that is not
 * updated, but only once every pod above it is available (`isUnavailable(replicas[target], minReadySeconds)`
 * stops the loop); pods below the target are not looked at. (`OrderedReady` would first wait for every pod to
 * be Running, Ready and available, in `processReplica`; the MaxUnavailableStatefulSet gate, alpha and off by
 * default in v1.34, counts every unavailable pod against maxUnavailable.) The deleted pod terminates gracefully
 * (SIGTERM, SIGKILL after terminationGracePeriodSeconds) and the controller re-creates it from the new
 * template. Returns when every pod is updated and available.
 */
export async function rollingUpdate(
  cluster: KafkaTestCluster,
  readiness: PodReadiness,
  statefulSetName: string,
  log: EventLog,
  options: {
    timeoutMs?: number;
    /** Called when the controller would delete `pod`, before it does (what else happens meanwhile). */
    beforeDelete?: (pod: string) => Promise<void>;
  } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  const sts = cluster.currentStatefulSet(statefulSetName);
  const minReadyMs = (sts.spec.minReadySeconds ?? 0) * 1000;
  const graceMs = (sts.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
  const pods = Array.from({ length: sts.spec.replicas ?? 1 }, (_, i) => `${sts.metadata.name}-${i}`);
  const started = Date.now();
  const note = (line: string) => log.push(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);
  const available = (pod: string) => readiness.isAvailable(pod, minReadyMs);
  for (let target = pods.length - 1; target >= 0; target--) {
    const pod = pods[target];
    if (cluster.isUpdated(pod)) continue;
    const above = pods.slice(target + 1);
    await readiness.waitUntil(() => above.every(available), timeoutMs, `${above.join(', ')} available before deleting ${pod}`);
    await options.beforeDelete?.(pod);
    const notReadyBelow = pods.slice(0, target).filter((p) => !readiness.isReady(p));
    note(`delete ${pod}${notReadyBelow.length > 0 ? ` (not Ready below it, which the controller does not look at: ${notReadyBelow.join(', ')})` : ''}`);
    readiness.forget(pod);
    await cluster.deletePod(pod, graceMs);
    readiness.forget(pod);
    note(`${pod} terminated; re-created`);
    cluster.createPod(pod);
  }
  await readiness.waitUntil(() => pods.every(available), timeoutMs, `every pod of ${statefulSetName} available after the roll`);
  note('every pod available');
}

/** The PodDisruptionBudget of dist/ whose selector matches the pod's StatefulSet. */
function budgetOf(cluster: KafkaTestCluster, pod: string): { budget: K8sObject; members: string[] } {
  const sts = cluster.statefulSetOf(pod);
  const labels = sts.spec.template.metadata.labels;
  const budget = cluster.manifests.budgets.find((b) => selects(b.spec.selector.matchLabels, labels));
  if (!budget) throw new Error(`no PodDisruptionBudget selects ${pod}`);
  return { budget, members: Array.from({ length: sts.spec.replicas ?? 1 }, (_, i) => `${sts.metadata.name}-${i}`) };
}

/**
 * Whether the Eviction API admits evicting `pod` now (pkg/registry/core/pod/storage/eviction.go): the
 * budget's healthy pods (Ready) minus the desired healthy (expected minus maxUnavailable) must leave a
 * disruption; a pod that is not Ready is evicted regardless only under unhealthyPodEvictionPolicy
 * AlwaysAllow, and under IfHealthyBudget only while the budget's healthy count is met.
 */
export function evictionAllowed(cluster: KafkaTestCluster, readiness: PodReadiness, pod: string): boolean {
  const { budget, members } = budgetOf(cluster, pod);
  const healthy = members.filter((m) => readiness.isReady(m)).length;
  const maxUnavailable = budget.spec.maxUnavailable;
  if (typeof maxUnavailable !== 'number') throw new Error(`${budget.metadata.name}: the harness understands only a numeric maxUnavailable`);
  const desiredHealthy = members.length - maxUnavailable;
  if (!readiness.isReady(pod)) {
    return budget.spec.unhealthyPodEvictionPolicy === 'AlwaysAllow' || healthy >= desiredHealthy;
  }
  return healthy - desiredHealthy > 0;
}

/**
 * `kubectl drain` of a node holding `pods`: each pod evicted through the Eviction API (retried every 5 s
 * while its budget refuses, as kubectl does), then re-created by its StatefulSet elsewhere at once. The
 * drain returns when every pod was evicted; it does not wait for the new pods (kubectl does not).
 */
export async function drainNode(cluster: KafkaTestCluster, readiness: PodReadiness, pods: readonly string[], log: EventLog, timeoutMs = 300_000): Promise<void> {
  const started = Date.now();
  const note = (line: string) => log.push(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);
  await Promise.all(
    pods.map(async (pod) => {
      let refusals = 0;
      while (!evictionAllowed(cluster, readiness, pod)) {
        if (refusals++ === 0) note(`evict ${pod}: refused by its PodDisruptionBudget, retrying every 5 s`);
        if (Date.now() - started > timeoutMs) throw new Error(`evicting ${pod}: still refused after ${timeoutMs} ms; probes: ${readiness.lastOutput(pod)}`);
        await sleep(5_000);
      }
      note(`evict ${pod}${refusals > 0 ? ` (after ${refusals} refusal(s))` : ''}`);
      readiness.forget(pod);
      await cluster.deletePod(pod, (cluster.manifests.statefulSet.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000);
      readiness.forget(pod);
      note(`${pod} terminated; re-created by its StatefulSet on another node`);
      cluster.createPod(pod);
    }),
  );
}
