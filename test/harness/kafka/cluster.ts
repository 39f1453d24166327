import { type ChildProcess, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import type { K8sObject } from '../../support/synth';
import { isAlive, killGroup, type ProcessResult, ProcessWatchdog, runProcess, sleep, tail } from '../processes';
import { initImageFiles } from './init-images';
import { kafkaJarsDir } from './jars';
import { IMAGE_DEFAULTS_DIR, writeKafkaHome } from './kafka-home';
import { imageKafkaVersion, type KafkaManifests, loadKafkaManifests, selects } from './manifests';
import { ContainerFilesystem, containerCommand, type PodIdentity, projectSecretVolume, resolveContainerEnv, type SecretData, serviceLinkEnv } from './pod';

const IMAGE_RUN_SCRIPT = path.join(__dirname, 'image-run.sh');
const IMAGE_LAUNCHER = '/etc/kafka/docker/run';

interface KafkaPod {
  /** The StatefulSet revision the pod was created from (its template: image, probes, env). */
  statefulSet: K8sObject;
  readonly ordinal: number;
  readonly identity: PodIdentity;
  readonly dir: string;
  /** Where the image's launcher writes server.properties (the host side of /opt/kafka/config). */
  configDir?: string;
  /** The Kafka container's process. */
  process?: ChildProcess;
  exited?: Promise<void>;
  /** The other containers' processes (the readiness sidecar). */
  sidecars: { readonly process: ChildProcess; readonly exited: Promise<void> }[];
}

/** A container of a pod template, as the harness reads it. */
type ContainerSpec = ConstructorParameters<typeof ContainerFilesystem>[2] & Parameters<typeof resolveContainerEnv>[0] & Parameters<typeof containerCommand>[0] & { name: string };

/** What the kubelet's readiness probe saw. */
export interface ProbeResult {
  readonly ready: boolean;
  readonly output: string;
}

// Clusters bind fixed ports (9092-9094 on 127.0.0.x, the advertised 19092+i on 127.0.0.1), so two test
// processes on one machine take turns through this lock; its owner's pid lets a dead owner be detected.
const HOST_LOCK = path.join(os.tmpdir(), 'learnflow-kafka-harness.lock');

async function acquireHostLock(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.writeFileSync(HOST_LOCK, String(process.pid), { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number(fs.readFileSync(HOST_LOCK, 'utf8'));
    if (owner === process.pid) throw new Error('this process already runs a Kafka test cluster: close it before starting another');
    if (owner > 0 && !isAlive(owner)) {
      fs.rmSync(HOST_LOCK, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another Kafka test cluster (pid ${owner}, ${HOST_LOCK}) kept the ports for ${timeoutMs} ms`);
    await sleep(500);
  }
}

function releaseHostLock(): void {
  if (fs.existsSync(HOST_LOCK) && Number(fs.readFileSync(HOST_LOCK, 'utf8')) === process.pid) fs.rmSync(HOST_LOCK, { force: true });
}

const liveClusters = new Set<KafkaTestCluster>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const cluster of liveClusters) cluster.killNow();
  });
}

export interface KafkaTestClusterOptions {
  /** The synthesized manifests, e.g. the repository's dist/. */
  readonly distDir: string;
  /** How long the brokers may take to form a cluster. @default 180000 */
  readonly readyTimeoutMs?: number;
  /** How long to wait for another process's test cluster to free the ports. @default 600000 */
  readonly lockTimeoutMs?: number;
  /**
   * The pods' directories (their claims): those of a cluster closed with `keepData`, so that this one
   * finds that one's volumes. @default - new, empty volumes
   */
  readonly dataFrom?: string;
  /** Whether `start` waits until the brokers are registered. @default true */
  readonly waitUntilReady?: boolean;
  /**
   * For a dist/ with kafka.security: the Secrets its pods and Jobs mount (the certificates that cert-manager
   * would issue, made by the test) and the SCRAM user the harness creates through the admin Jobs' listener and
   * then connects as. @default - none (a dist/ with SASL listeners is refused)
   */
  readonly security?: HarnessSecurity;
  /**
   * Env values that replace those of dist/ in the pods' containers of that name, e.g. a shorter poll interval of
   * a sidecar so that a test waits seconds instead of a minute. @default - dist/'s env, with KAFKA_TEST_JVM_ENV in
   * the Kafka containers
   */
  readonly containerEnv?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/**
 * JVM settings for the Kafka containers of every test cluster (`containerEnv.kafka` replaces them): the image's
 * default (kafka-run-class.sh: G1 with its pause goal) without the C2 compiler. On the test machine's 2 shared
 * cores, C2's compiler threads were the largest consumer of a running broker (4.1 of 7.8 CPU seconds over 20 s,
 * minutes after its start), and each restarted pod's JVMs compiled again while it started: one broker restart took
 * ~95 s to available with C2 and ~43 s with C1 only (test/harness/kafka/README.md). The same broker code runs;
 * the image's launcher leaves KAFKA_JVM_PERFORMANCE_OPTS out of server.properties (KafkaDockerWrapper's
 * Constants.ExcludeServerPropsEnv).
 */
const KAFKA_TEST_JVM_ENV: Readonly<Record<string, string>> = {
  KAFKA_JVM_PERFORMANCE_OPTS: '-XX:TieredStopAtLevel=1 -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true',
};

/**
 * `containerEnv.kafka` for the benchmarks, which measure the engine's speed: no override, the Kafka containers' JVM
 * as dist/ and the image set it (C2 on).
 */
export const PRODUCTION_JVM: Readonly<Record<string, string>> = {};

export interface HarnessSecurity {
  readonly secrets: SecretData;
  /** The admin certificate's Secret (tls.crt, tls.key, ca.crt), which the harness's own tools present. */
  readonly adminSecretName: string;
  readonly user: { readonly username: string; readonly password: string };
}

/** Whether a dist/'s brokers have SASL listeners (kafka.security). */
function hasSaslListeners(manifests: KafkaManifests): boolean {
  const env: { name: string; value?: string }[] = manifests.statefulSet.spec.template.spec.containers[0].env ?? [];
  return (env.find((e) => e.name === 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP')?.value ?? '').includes('SASL_');
}

/**
 * Real Apache Kafka brokers started from the Kafka StatefulSet of a dist/ directory: each pod's container
 * command runs with bash, with its environment resolved as the kubelet would, and the image's launcher
 * emulated by image-run.sh over Kafka's Maven Central jars. Pod i is 127.0.0.(i+1) for Java (the cluster
 * DNS names resolve there through a hosts file), and its port-forwarded external listener is bound at the
 * localhost address it advertises.
 */
export class KafkaTestCluster {
  static async start(options: KafkaTestClusterOptions): Promise<KafkaTestCluster> {
    const manifests = loadKafkaManifests(options.distDir);
    // Fails early when the version's jars are not in the cache.
    kafkaJarsDir(manifests.kafkaVersion);
    await acquireHostLock(options.lockTimeoutMs ?? 600_000);
    let cluster: KafkaTestCluster;
    try {
      if (hasSaslListeners(manifests) && !options.security) throw new Error(`${options.distDir} has SASL listeners (kafka.security): pass the harness its Secrets and a SCRAM user (security)`);
      cluster = new KafkaTestCluster(manifests, options.readyTimeoutMs ?? 180_000, options.dataFrom, options.security, { kafka: KAFKA_TEST_JVM_ENV, ...options.containerEnv });
    } catch (error) {
      releaseHostLock();
      throw error;
    }
    try {
      const launched = Date.now();
      for (const pod of cluster.allPods) cluster.launch(pod);
      if (options.waitUntilReady !== false) await cluster.waitUntilReady();
      cluster.startupMs = Date.now() - launched;
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  /** The brokers' StatefulSet replicas (grows with `scaleBrokers`). */
  brokerCount: number;
  /** From launching the pods to a ready cluster (not counting the jar download or the host lock). */
  startupMs = 0;
  /** The brokers' pod names, then the dedicated controllers' (none when every broker is a voter). */
  brokerPods: readonly string[];
  readonly controllerPods: readonly string[];
  /** The directory of the pods (their claims and logs); see `dataFrom`. */
  readonly dir: string;
  private pods: KafkaPod[];
  private readonly hostsFile: string;
  private readonly controllers: KafkaPod[];
  private readonly watchdog: ProcessWatchdog;
  private jobRuns = 0;
  private keepData = false;

  private constructor(
    /** The manifests of the dist/ applied last (`scaleBrokers` and `applyStatefulSets` apply another). */
    public manifests: KafkaManifests,
    private readonly readyTimeoutMs: number,
    dataFrom: string | undefined,
    /** kafka.security: the Secrets and the harness's SCRAM user. */
    readonly security?: HarnessSecurity,
    private readonly containerEnvOverrides: Readonly<Record<string, Readonly<Record<string, string>>>> = {},
  ) {
    const sts = manifests.statefulSet;
    this.brokerCount = sts.spec.replicas ?? 1;
    this.dir = dataFrom ?? fs.mkdtempSync(path.join(os.tmpdir(), 'learnflow-kafka-'));
    // Pod IPs: brokers 127.0.0.1.., dedicated controllers 127.0.0.51.., the topics Job 127.0.0.100.
    this.pods = this.podsOf(sts, 1);
    this.controllers = manifests.controllerStatefulSet ? this.podsOf(manifests.controllerStatefulSet, 51) : [];
    this.brokerPods = this.pods.map((pod) => pod.identity.name);
    this.controllerPods = this.controllers.map((pod) => pod.identity.name);

    this.hostsFile = path.join(this.dir, 'hosts');
    fs.writeFileSync(this.hostsFile, this.hostsFileContent());

    this.watchdog = new ProcessWatchdog(this.dir, 'kafka-harness-watchdog');
    installExitHook();
    liveClusters.add(this);
  }

  private podsOf(sts: K8sObject, firstAddress: number): KafkaPod[] {
    const namespace = sts.metadata.namespace ?? 'default';
    const template = sts.spec.template.metadata ?? {};
    return Array.from({ length: sts.spec.replicas ?? 1 }, (_, ordinal) => {
      const name = `${sts.metadata.name}-${ordinal}`;
      const labels = {
        ...template.labels,
        'apps.kubernetes.io/pod-index': String(ordinal),
        'statefulset.kubernetes.io/pod-name': name,
      };
      const identity = { name, namespace, labels, annotations: template.annotations ?? {}, podIP: `127.0.0.${ordinal + firstAddress}` };
      return { statefulSet: sts, ordinal, identity, dir: path.join(this.dir, name), sidecars: [] };
    });
  }

  /** The Kafka version of the dist/ applied last (its StatefulSets' apache/kafka image). */
  get kafkaVersion(): string {
    return this.manifests.kafkaVersion;
  }

  /** A KAFKA_HOME of the version applied last, whose bin/ tools run the real Kafka classes and resolve the cluster's DNS names. */
  get kafkaHome(): string {
    return this.kafkaHomeOf(this.kafkaVersion);
  }

  /** The KAFKA_HOME over `version`'s jars (the image's /opt/kafka), written on first use. */
  private kafkaHomeOf(version: string): string {
    const home = path.join(this.dir, `kafka-home-${version}`);
    if (!fs.existsSync(home)) writeKafkaHome(home, kafkaJarsDir(version), this.hostsFile);
    return home;
  }

  /** The KAFKA_HOME of the image the pod was created with. */
  private podKafkaHome(pod: KafkaPod): string {
    return this.kafkaHomeOf(imageKafkaVersion(pod.statefulSet.spec.template.spec.containers[0].image));
  }

  private get allPods(): KafkaPod[] {
    return [...this.controllers, ...this.pods];
  }

  private pod(name: string): KafkaPod {
    const pod = this.allPods.find((p) => p.identity.name === name);
    if (!pod) throw new Error(`no pod ${name} in this cluster (${this.allPods.map((p) => p.identity.name).join(', ')})`);
    return pod;
  }

  /** The external listeners' addresses (localhost:<19092+i>), as an operator reaches them through port-forward. */
  get externalBootstrapServers(): string[] {
    return this.pods.map((pod) => this.externalAddress(pod)).filter((address): address is string => address !== undefined);
  }

  private get secrets(): SecretData {
    return this.renewedSecrets ?? this.security?.secrets ?? {};
  }

  private renewedSecrets?: SecretData;

  /**
   * A Secret's new data, as cert-manager writes a renewed certificate: every running pod that mounts it sees the
   * new files swapped in at once (the kubelet's `..data` symlink), and pods and Jobs started later mount it too.
   */
  updateSecret(name: string, data: Readonly<Record<string, string>>): void {
    if (!this.secrets[name]) throw new Error(`no Secret ${name} to update`);
    this.renewedSecrets = { ...this.secrets, [name]: data };
    for (const pod of this.allPods) {
      for (const volume of pod.statefulSet.spec.template.spec.volumes ?? []) {
        if (volume.secret?.secretName === name) projectSecretVolume(path.join(pod.dir, 'volumes', volume.name), volume, this.secrets);
      }
    }
  }

  /**
   * kafkajs settings for the external listeners: with kafka.security, SCRAM-SHA-512 as `user` (default: the
   * harness's own) over TLS verified against `ca` (default: the admin Secret's ca.crt, the install's CA).
   */
  clientConfig(options: { user?: { username: string; password: string }; ca?: string } = {}): Pick<KafkaConfig, 'ssl' | 'sasl'> {
    if (!this.security) return {};
    const { username, password } = options.user ?? this.security.user;
    const ca = options.ca ?? this.secrets[this.security.adminSecretName]['ca.crt'];
    return { ssl: { ca: [ca] }, sasl: { mechanism: 'scram-sha-512', username, password } };
  }

  /**
   * A client properties file for the host's Kafka tools (`runTool` with --command-config) on the admin
   * listener (`internalBootstrapServers`): the admin certificate, as the Jobs present it.
   */
  adminToolConfig(): string {
    const file = path.join(this.dir, 'admin-client.properties');
    if (!this.security) {
      fs.writeFileSync(file, '');
      return file;
    }
    const admin = this.secrets[this.security.adminSecretName];
    const keystore = path.join(this.dir, 'admin-keystore.pem');
    const ca = path.join(this.dir, 'admin-ca.crt');
    fs.writeFileSync(keystore, admin['tls.key'] + admin['tls.crt'], { mode: 0o600 });
    fs.writeFileSync(ca, admin['ca.crt']);
    const lines = ['security.protocol=SSL', 'ssl.keystore.type=PEM', `ssl.keystore.location=${keystore}`, 'ssl.truststore.type=PEM', `ssl.truststore.location=${ca}`];
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }

  /**
   * The client listener as the services reach it: the bootstrap Service (not headless) on the brokers' client
   * port, resolvable by the tools of `kafkaHome`. With kafka.security its clients authenticate (clientToolProperties).
   */
  get clientBootstrapServers(): string {
    // dist/'s one ClusterIP Service of the brokers with a port named after the client listener.
    const port = (service: K8sObject) => (service.spec?.ports as { name?: string; port: number }[] | undefined)?.find((p) => p.name === 'internal');
    const bootstrap = this.manifests.namespaceServices.find((service) => service.spec?.clusterIP !== 'None' && port(service));
    if (!bootstrap) throw new Error("dist/ has no ClusterIP Service with a port named 'internal' (the client listener)");
    return `${bootstrap.metadata.name}.${bootstrap.metadata.namespace ?? 'default'}.svc.cluster.local:${port(bootstrap)!.port}`;
  }

  /**
   * Client properties of Kafka's Java tools on the client listener (`clientBootstrapServers`): with kafka.security,
   * SCRAM-SHA-512 as the harness's user over TLS verified against the install's CA, as a service logs in; none in the clear.
   */
  clientToolProperties(): string[] {
    if (!this.security) return [];
    const ca = path.join(this.dir, 'client-ca.crt');
    fs.writeFileSync(ca, this.secrets[this.security.adminSecretName]['ca.crt']);
    const { username, password } = this.security.user;
    return [
      'security.protocol=SASL_SSL',
      'sasl.mechanism=SCRAM-SHA-512',
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${username}" password="${password}";`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${ca}`,
    ];
  }

  /** Create or update a SCRAM-SHA-512 user with Kafka's own kafka-configs.sh, as the admin principal. */
  async upsertScramUser(username: string, password: string): Promise<ProcessResult> {
    return this.runTool('kafka-configs.sh', [
      '--bootstrap-server',
      this.internalBootstrapServers,
      '--command-config',
      this.adminToolConfig(),
      '--alter',
      '--add-config',
      `SCRAM-SHA-512=[iterations=4096,password=${password}]`,
      '--entity-type',
      'users',
      '--entity-name',
      username,
    ]);
  }

  /**
   * ACLs for a principal the test itself uses (the harness's SCRAM user, a bench client), added with Kafka's own
   * kafka-acls.sh as the admin principal: `operations` (Read, Write, Describe...) on `resources` (kafka-acls.sh's
   * --topic, --group, --cluster arguments). The product's own principals get theirs from the users Job.
   */
  async allow(principal: string, operations: readonly string[], resources: readonly string[]): Promise<void> {
    const run = await this.runTool('kafka-acls.sh', [
      ...['--bootstrap-server', this.internalBootstrapServers, '--command-config', this.adminToolConfig()],
      ...['--add', '--allow-principal', `User:${principal}`, ...operations.flatMap((operation) => ['--operation', operation]), ...resources],
    ]);
    if (run.exitCode !== 0) throw new Error(`kafka-acls.sh --add for ${principal} failed:\n${run.output}`);
  }

  /** The bootstrap address the topics Job uses, resolvable by the tools of `kafkaHome`. */
  get internalBootstrapServers(): string {
    const env = this.manifests.topicsJob.spec.template.spec.containers[0].env as { name: string; value?: string }[];
    const bootstrap = env.find((e) => e.name === 'BOOTSTRAP_SERVERS')?.value;
    if (!bootstrap) throw new Error('the topics Job has no BOOTSTRAP_SERVERS');
    return bootstrap;
  }

  /** The broker's console output so far (log4j goes to stdout, as in the image). */
  brokerLog(ordinal: number): string {
    return this.podLog(this.pods[ordinal].identity.name);
  }

  /** A pod's Kafka container output so far, or another container's by name. */
  podLog(name: string, container = 'kafka'): string {
    const file = path.join(this.pod(name).dir, container === 'kafka' ? 'console.log' : `${container}.log`);
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  }

  /** The address the harness gives a pod (its status.podIP), where e.g. the metrics agent listens. */
  podIP(name: string): string {
    return this.pod(name).identity.podIP;
  }

  /** The StatefulSet of dist/ that owns a pod. */
  statefulSetOf(name: string): K8sObject {
    return this.pod(name).statefulSet;
  }

  /** The process id of a pod's Kafka container (a new pod, a new process), undefined when it is not running. */
  pid(name: string): number | undefined {
    return this.isRunning(name) ? this.pod(name).process?.pid : undefined;
  }

  /** Whether a pod's Kafka container process is running. */
  isRunning(name: string): boolean {
    const child = this.pod(name).process;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** The server.properties that the image's launcher generated for a broker. */
  serverProperties(ordinal: number): Map<string, string> {
    const file = path.join(this.pods[ordinal].configDir ?? '', 'server.properties');
    const entries = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.includes('=') && !line.startsWith('#'))
      .map((line): [string, string] => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]);
    return new Map(entries);
  }

  /** Stop broker `ordinal` as Kubernetes deletes a pod: SIGTERM, then SIGKILL after the grace period. */
  stop(ordinal: number, gracePeriodMs = 60_000): Promise<void> {
    return this.deletePod(this.pods[ordinal].identity.name, gracePeriodMs);
  }

  /**
   * Delete a pod as Kubernetes does: SIGTERM to every container, SIGKILL after the grace period (0: at
   * once, as `kill -9` of the node's processes).
   */
  async deletePod(name: string, gracePeriodMs = 60_000): Promise<void> {
    const pod = this.pod(name);
    const containers = [...(pod.process ? [{ process: pod.process, exited: pod.exited! }] : []), ...pod.sidecars];
    for (const container of containers) killGroup(container.process, gracePeriodMs === 0 ? 'SIGKILL' : 'SIGTERM');
    const all = Promise.all(containers.map((container) => container.exited));
    const killed = await Promise.race([all.then(() => false), sleep(gracePeriodMs).then(() => true)]);
    if (killed) {
      for (const container of containers) killGroup(container.process, 'SIGKILL');
      await all;
    }
    pod.process = undefined;
    pod.sidecars = [];
  }

  /** Start broker `ordinal` again (a new pod on the same volume) and wait until the cluster is whole. */
  async start(ordinal: number): Promise<void> {
    this.createPod(this.pods[ordinal].identity.name);
    await this.waitUntilReady();
  }

  /**
   * `kubectl apply` of a dist/ whose broker StatefulSet has more replicas: the StatefulSet controller creates
   * the new ordinals' pods from its template; the running pods stay as they are (a changed template would
   * roll them: this refuses one, as the scale-out must not). Waits until the new brokers are registered.
   */
  async scaleBrokers(distDir: string): Promise<string[]> {
    const manifests = loadKafkaManifests(distDir, this.manifests.statefulSet.metadata.name);
    const template = (sts: K8sObject) => JSON.stringify(sts.spec.template);
    if (template(manifests.statefulSet) !== template(this.manifests.statefulSet)) {
      throw new Error(`the broker StatefulSet's pod template of ${distDir} differs from the running one: applying it would roll every broker`);
    }
    const added = this.podsOf(manifests.statefulSet, 1).slice(this.pods.length);
    this.manifests = manifests;
    this.pods = [...this.pods, ...added];
    this.brokerPods = this.pods.map((pod) => pod.identity.name);
    this.brokerCount = this.pods.length;
    // Kubernetes' DNS answers for the new pods at once; Java re-reads a changed jdk.net.hosts.file.
    fs.writeFileSync(this.hostsFile, this.hostsFileContent());
    for (const pod of added) this.launch(pod);
    await this.waitUntilReady();
    return added.map((pod) => pod.identity.name);
  }

  /**
   * Create a deleted pod again (same name, same claim, fresh emptyDirs), without waiting for it, from its
   * StatefulSet's current template (the update revision, after `applyStatefulSets`).
   */
  createPod(name: string): void {
    const pod = this.pod(name);
    if (pod.process) throw new Error(`${name} is running`);
    pod.statefulSet = this.currentStatefulSet(pod.statefulSet.metadata.name);
    this.launch(pod);
  }

  /** The StatefulSet of the dist/ applied last named `name`. */
  currentStatefulSet(name: string): K8sObject {
    const found = [this.manifests.statefulSet, this.manifests.controllerStatefulSet].find((sts) => sts?.metadata.name === name);
    if (!found) throw new Error(`no StatefulSet ${name} in the dist/ applied last`);
    return found;
  }

  /** Whether a pod runs its StatefulSet's current template (the update revision), as the StatefulSet controller compares revisions. */
  isUpdated(name: string): boolean {
    const pod = this.pod(name);
    return JSON.stringify(pod.statefulSet.spec.template) === JSON.stringify(this.currentStatefulSet(pod.statefulSet.metadata.name).spec.template);
  }

  /**
   * `kubectl apply` of a dist/ whose StatefulSets have another pod template (a new image, say) and the same
   * replicas: the StatefulSets get a new update revision; the running pods keep theirs until they are deleted
   * (`rollingUpdate` deletes them as the StatefulSet controller does) and re-created from the new template.
   * The Jobs of that dist/ are the ones `run*Job` runs from then on.
   */
  applyStatefulSets(distDir: string): void {
    const manifests = loadKafkaManifests(distDir, this.manifests.statefulSet.metadata.name);
    const shape = (m: KafkaManifests) => [m.statefulSet, m.controllerStatefulSet].map((sts) => sts && `${sts.metadata.name}/${sts.spec.replicas}`).join(',');
    if (shape(manifests) !== shape(this.manifests)) {
      throw new Error(`${distDir} has other StatefulSets or replicas (${shape(manifests)}) than the running ones (${shape(this.manifests)})`);
    }
    // Fails here, not mid-roll, when the new version's jars are not in the cache.
    kafkaJarsDir(manifests.kafkaVersion);
    this.manifests = manifests;
  }

  /**
   * Run the readiness probes of the pod's containers in dist/ as the kubelet does: each exec command in its
   * container's environment, bounded by timeoutSeconds, exit code 0 is a success. The pod is Ready when
   * every container is (this is one round; `PodReadiness` applies periods and thresholds).
   */
  async probeReadiness(name: string): Promise<ProbeResult> {
    const pod = this.pod(name);
    if (!pod.process) return { ready: false, output: 'the pod is not running' };
    const containers: (ContainerSpec & { readinessProbe?: { exec?: { command?: string[] }; timeoutSeconds?: number } })[] = pod.statefulSet.spec.template.spec.containers;
    const results = await Promise.all(
      containers.map(async (container) => {
        const command = container.readinessProbe?.exec?.command;
        if (!command) throw new Error(`${name}: container ${container.name} has no exec readiness probe`);
        const { env, filesystem } = this.containerEnv(pod, container, container !== containers[0]);
        const [program, ...args] = command.map((token) => filesystem.translate(token));
        const result = await runProcess(program, args, env, (container.readinessProbe?.timeoutSeconds ?? 1) * 1000);
        return { ready: result.exitCode === 0, output: `${container.name}: ${result.output.trim() || `exit ${result.exitCode}`}` };
      }),
    );
    return { ready: results.every((r) => r.ready), output: results.map((r) => r.output).join('; ') };
  }

  /**
   * The Kafka container's startup probe of dist/ as the kubelet runs a tcpSocket probe: a TCP connection to the pod's IP
   * at the probe's port (a port name: the container's port of that name), within timeoutSeconds. A container without
   * one has started once it runs.
   */
  async probeStartup(name: string): Promise<boolean> {
    const pod = this.pod(name);
    if (!pod.process) return false;
    const container = pod.statefulSet.spec.template.spec.containers[0];
    const probe: { tcpSocket?: { port: string | number }; timeoutSeconds?: number } | undefined = container.startupProbe;
    if (!probe) return true;
    if (!probe.tcpSocket) throw new Error(`${name}: the harness runs tcpSocket startup probes only`);
    const named = probe.tcpSocket.port;
    const port = typeof named === 'number' ? named : (container.ports ?? []).find((p: { name?: string }) => p.name === named)?.containerPort;
    if (port === undefined) throw new Error(`${name}: the startup probe's port ${named} is not a port of the container`);
    return new Promise((resolve) => {
      const socket = net.connect({ host: pod.identity.podIP, port, timeout: (probe.timeoutSeconds ?? 1) * 1000 });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(false));
    });
  }

  /**
   * CPU seconds (user + system) a container of a pod has used so far: every process of its process group,
   * with the children they have reaped (the sidecar's short-lived `mv`, say).
   */
  cpuSecondsOf(name: string, container: string): number {
    const pod = this.pod(name);
    const containers: ContainerSpec[] = pod.statefulSet.spec.template.spec.containers;
    const index = containers.findIndex((c) => c.name === container);
    const child = index === 0 ? pod.process : pod.sidecars[index - 1]?.process;
    if (child?.pid === undefined) throw new Error(`${name}: container ${container} is not running`);
    let ticks = 0;
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue;
      }
      // proc(5): the fields after the command's closing parenthesis; pgrp is the 5th field, utime..cstime 14-17.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== child.pid) continue;
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    }
    return ticks / 100;
  }

  /**
   * The Kafka container's JVM heap in use right after a full GC (its live data), in bytes: `jcmd GC.run`, then
   * `GC.heap_info`'s used figure (the container's process is the JVM itself: the image's scripts exec it).
   */
  async liveHeapBytes(name: string): Promise<number> {
    const pid = this.pod(name).process?.pid;
    if (pid === undefined) throw new Error(`${name} is not running`);
    const gc = await runProcess('jcmd', [String(pid), 'GC.run'], { PATH: process.env.PATH }, 60_000);
    if (gc.exitCode !== 0) throw new Error(`jcmd ${pid} GC.run: ${gc.output}`);
    const info = await runProcess('jcmd', [String(pid), 'GC.heap_info'], { PATH: process.env.PATH }, 60_000);
    const used = /total \d+K, used (\d+)K/.exec(info.stdout);
    if (info.exitCode !== 0 || !used) throw new Error(`jcmd ${pid} GC.heap_info: ${info.output}`);
    return Number(used[1]) * 1024;
  }

  /** CPU seconds that `runs` runs of the Kafka container's readiness probe take, measured by bash's `times`. */
  async probeCpuSeconds(name: string, runs: number): Promise<number> {
    const pod = this.pod(name);
    const container: ContainerSpec & { readinessProbe: { exec: { command: string[] } } } = pod.statefulSet.spec.template.spec.containers[0];
    const { env } = this.containerEnv(pod, container, false);
    const [program, ...args] = container.readinessProbe.exec.command;
    const quoted = [program, ...args].map((token) => `'${token.replace(/'/g, `'\\''`)}'`).join(' ');
    const result = await runProcess('bash', ['-c', `for ((i = 0; i < ${runs}; i++)); do ${quoted} >/dev/null; done; times`], env, 60_000);
    // times: the shell's user and system time, then its children's.
    const children = result.stdout.trim().split('\n').at(-1) ?? '';
    const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
    if (seconds.length !== 2) throw new Error(`unexpected output of times: ${result.output}`);
    return seconds[0] + seconds[1];
  }

  /**
   * Start a bin/ tool of `kafkaHome` in the background (e.g. kafka-verifiable-producer.sh), its output
   * appended to `logFile`; it dies with the cluster.
   */
  spawnTool(tool: string, args: readonly string[], logFile: string): { readonly process: ChildProcess; readonly exited: Promise<void> } {
    const child = this.watchdog.spawn(path.join(this.kafkaHome, 'bin', tool), args, this.hostToolEnv(), logFile);
    return { process: child, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
  }

  /** Kill every process and remove every file of the cluster (unless `keepData`: then `dir` stays). */
  async close(options: { keepData?: boolean } = {}): Promise<void> {
    this.keepData = options.keepData === true;
    const exits = this.allPods.flatMap((pod) => [...(pod.exited ? [pod.exited] : []), ...pod.sidecars.map((s) => s.exited)]);
    this.killNow();
    await Promise.all(exits);
  }

  /** Synchronous teardown, also used by the process exit hook. */
  killNow(): void {
    for (const pod of this.allPods) {
      killGroup(pod.process, 'SIGKILL');
      for (const sidecar of pod.sidecars) killGroup(sidecar.process, 'SIGKILL');
    }
    this.watchdog.dismiss({ keepDir: this.keepData });
    liveClusters.delete(this);
    releaseHostLock();
  }

  /** Run a bin/ tool of `kafkaHome` from the host (e.g. kafka-metadata-quorum.sh). */
  runTool(tool: string, args: readonly string[], timeoutMs = 60_000): Promise<ProcessResult> {
    return runProcess(path.join(this.kafkaHome, 'bin', tool), args, this.hostToolEnv(), timeoutMs);
  }

  /**
   * The environment of the test's own Kafka tools (`runTool`, `spawnTool`: the admin tools, the load's producer and
   * consumer): C1 only and the serial collector, as the Jobs of dist/ run theirs (tool-common.sh). With the
   * default C2, the compiler threads of these JVMs competed with the brokers for the test machine's 2 cores
   * (the load's two long-running JVMs used 25 CPU seconds in the 100 s of one broker restart).
   */
  private hostToolEnv(): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH, HOME: this.dir, KAFKA_JVM_PERFORMANCE_OPTS: '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true' };
  }

  /**
   * Run the topics Job's container command (its ConfigMap mounted, its env resolved) against the cluster.
   * `topicsConf` replaces the ConfigMap's topics.conf and `env` overrides env values, as a changed
   * Job spec would.
   */
  runTopicsJob(
    options: { topicsConf?: string; env?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
  ): Promise<ProcessResult> {
    const job = this.manifests.topicsJob;
    const podSpec = job.spec.template.spec;
    const configMaps = this.manifests.configMaps.map((configMap): K8sObject => {
      const mounted = (podSpec.volumes ?? []).some((v: { configMap?: { name: string } }) => v.configMap?.name === configMap.metadata.name);
      if (options.topicsConf === undefined || !mounted || configMap.data?.['topics.conf'] === undefined) return configMap;
      return { ...configMap, data: { ...configMap.data, 'topics.conf': options.topicsConf } };
    });
    return this.runJob(job, configMaps, options.env ?? {}, options.timeoutMs ?? 180_000);
  }

  /** Run the rebalance Job's container command of the dist/ applied last, as `runTopicsJob` runs the topics Job's. */
  runRebalanceJob(options: { timeoutMs?: number } = {}): Promise<ProcessResult> {
    const job = this.manifests.rebalanceJob;
    if (!job) throw new Error('dist/ has no rebalance Job');
    return this.runJob(job, this.manifests.configMaps, {}, options.timeoutMs ?? 180_000);
  }

  /** Run the features Job's container command of the dist/ applied last; `env` overrides env values. */
  runFeaturesJob(options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {}): Promise<ProcessResult> {
    return this.runToolJob('features', this.manifests.featuresJob, options);
  }

  /** Run the users Job's container command (kafka.security) of the dist/ applied last: its Secrets come from the harness's `security.secrets`. */
  runUsersJob(options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {}): Promise<ProcessResult> {
    return this.runToolJob('users', this.manifests.usersJob, options);
  }

  private runToolJob(name: string, job: K8sObject | undefined, options: { env?: Readonly<Record<string, string>>; timeoutMs?: number }): Promise<ProcessResult> {
    if (!job) throw new Error(`dist/ has no ${name} Job`);
    return this.runJob(job, this.manifests.configMaps, options.env ?? {}, options.timeoutMs ?? 180_000);
  }

  private runJob(job: K8sObject, configMaps: readonly K8sObject[], overrides: Readonly<Record<string, string>>, timeoutMs: number): Promise<ProcessResult> {
    const podSpec = job.spec.template.spec;
    const container = podSpec.containers[0];
    const name = `${job.metadata.name}-run${++this.jobRuns}`;
    const identity: PodIdentity = {
      name,
      namespace: job.metadata.namespace ?? 'default',
      labels: { ...job.spec.template.metadata?.labels, 'batch.kubernetes.io/job-name': job.metadata.name, 'job-name': job.metadata.name },
      annotations: job.spec.template.metadata?.annotations ?? {},
      podIP: '127.0.0.100',
    };
    const filesystem = new ContainerFilesystem(path.join(this.dir, name), podSpec, container, configMaps, [], undefined, true, this.secrets);
    const resolved = resolveContainerEnv(container, identity, this.serviceLinks(podSpec));
    const env = { ...this.processEnv(resolved, identity, filesystem), ...overrides };
    // The one addition to the Job's environment: where the tools of its image are (the script defaults to /opt/kafka).
    env.KAFKA_HOME = this.kafkaHomeOf(imageKafkaVersion(container.image));
    const [command, ...args] = containerCommand(container, resolved).map((token) => filesystem.translate(token));
    return runProcess(command, args, env, timeoutMs);
  }

  /** A StatefulSet pod's DNS name through its headless Service, which its hostname resolves to. */
  private podHostname(pod: KafkaPod): string {
    const { spec, metadata } = pod.statefulSet;
    return `${pod.identity.name}.${spec.serviceName}.${metadata.namespace ?? 'default'}.svc.cluster.local`;
  }

  private hostsFileContent(): string {
    const lines = ['127.0.0.1 localhost'];
    for (const pod of this.allPods) lines.push(`${pod.identity.podIP} ${this.podHostname(pod)}`);
    // A Service name resolves to its pods (a headless Service does exactly that; for a ClusterIP Service
    // the clients' use_all_dns_ips lookup stands in for kube-proxy's choice of a pod).
    for (const service of this.manifests.namespaceServices) {
      for (const pod of this.allPods.filter((p) => selects(service.spec?.selector, p.identity.labels))) {
        lines.push(`${pod.identity.podIP} ${service.metadata.name}.${service.metadata.namespace ?? 'default'}.svc.cluster.local`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  private serviceLinks(podSpec: { enableServiceLinks?: boolean }): Map<string, string> {
    // Kubernetes' default is true.
    return serviceLinkEnv(this.manifests.namespaceServices, podSpec.enableServiceLinks !== false);
  }

  /** The environment of the container's process on the host: its resolved env, with container paths translated. */
  private processEnv(resolved: ReadonlyMap<string, string>, identity: PodIdentity, filesystem: ContainerFilesystem): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of resolved) env[name] = filesystem.translate(value);
    // What the container runtime adds; the image's own PATH is the host's here.
    return { PATH: process.env.PATH, HOSTNAME: identity.name, HOME: path.join(this.dir, 'home'), ...env };
  }

  /**
   * A container's environment as its process sees it: resolved as the kubelet does, container paths
   * translated, and the pod's loopback address (127.0.0.1 in a value, e.g. where JMX listens) the pod's
   * own address, since the pods share the host's loopback here.
   */
  private containerEnv(pod: KafkaPod, container: ContainerSpec, sidecar: boolean): { env: NodeJS.ProcessEnv; resolved: Map<string, string>; filesystem: ContainerFilesystem } {
    const podSpec = pod.statefulSet.spec.template.spec;
    const filesystem = new ContainerFilesystem(pod.dir, podSpec, container, this.manifests.configMaps, pod.statefulSet.spec.volumeClaimTemplates, undefined, false, this.secrets);
    const resolved = resolveContainerEnv(container, pod.identity, this.serviceLinks(podSpec));
    for (const [name, value] of resolved) resolved.set(name, value.split('127.0.0.1').join(pod.identity.podIP));
    for (const [name, value] of Object.entries(this.containerEnvOverrides[container.name] ?? {})) resolved.set(name, value);
    const env = this.processEnv(resolved, pod.identity, filesystem);
    // As for the Jobs: where the tools of the pod's image are (the image's are at /opt/kafka).
    if (sidecar) env.KAFKA_HOME = this.podKafkaHome(pod);
    return { env, resolved, filesystem };
  }

  private launch(pod: KafkaPod): void {
    const podSpec = pod.statefulSet.spec.template.spec;
    const [container, ...sidecars]: ContainerSpec[] = podSpec.containers;
    // A new pod: fresh emptyDirs (for every container, before any starts), the PVC directory kept.
    for (const each of podSpec.containers) new ContainerFilesystem(pod.dir, podSpec, each, this.manifests.configMaps, pod.statefulSet.spec.volumeClaimTemplates, undefined, true, this.secrets);
    for (const init of podSpec.initContainers ?? []) this.runInitContainer(pod, init);
    const { env, resolved, filesystem } = this.containerEnv(pod, container, false);

    const logDir = resolved.get('LOG_DIR') ?? '/opt/kafka/logs';
    const hostLogDir = filesystem.writableHostPath(logDir);
    if (!hostLogDir) throw new Error(`${pod.identity.name}: LOG_DIR ${logDir} is on the read-only root filesystem; kafka-run-class.sh cannot create it`);
    pod.configDir = filesystem.writableHostPath('/opt/kafka/config');
    const mountedConfigs = path.join(pod.dir, 'mnt-shared-config');
    fs.mkdirSync(mountedConfigs, { recursive: true });
    const launcher = path.join(pod.dir, 'etc-kafka-docker-run');
    const exports = {
      LEARNFLOW_HARNESS_KAFKA_HOME: this.podKafkaHome(pod),
      LEARNFLOW_HARNESS_IMAGE_DEFAULTS: IMAGE_DEFAULTS_DIR,
      LEARNFLOW_HARNESS_MOUNTED_CONFIGS: mountedConfigs,
      LEARNFLOW_HARNESS_CONFIG_DIR: pod.configDir ?? '',
      LEARNFLOW_HARNESS_POD_IP: pod.identity.podIP,
      LEARNFLOW_HARNESS_POD_HOSTNAME: this.podHostname(pod),
      LOG_DIR: hostLogDir,
    };
    fs.writeFileSync(
      launcher,
      [
        '#!/usr/bin/env bash',
        `# ${IMAGE_LAUNCHER} of the apache/kafka image for pod ${pod.identity.name}, as the Kafka test harness emulates it.`,
        ...Object.entries(exports).map(([name, value]) => `export ${name}='${value}'`),
        `exec bash '${IMAGE_RUN_SCRIPT}' "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );

    // The one seam: the container's command runs as written, except that the image's launcher is ours.
    const tokens = containerCommand(container, resolved);
    if (!tokens.some((token) => token.includes(IMAGE_LAUNCHER))) {
      throw new Error(`the Kafka container's command does not run the image's launcher ${IMAGE_LAUNCHER}`);
    }
    const [command, ...args] = tokens.map((token) => filesystem.translate(token.split(IMAGE_LAUNCHER).join(launcher)));

    const child = this.watchdog.spawn(command, args, env, path.join(pod.dir, 'console.log'));
    pod.process = child;
    pod.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    pod.sidecars = sidecars.map((sidecar) => {
      const run = this.containerEnv(pod, sidecar, true);
      const [sidecarCommand, ...sidecarArgs] = containerCommand(sidecar, run.resolved).map((token) => run.filesystem.translate(token));
      const process = this.watchdog.spawn(sidecarCommand, sidecarArgs, run.env, path.join(pod.dir, `${sidecar.name}.log`));
      return { process, exited: new Promise<void>((resolve) => process.once('exit', () => resolve())) };
    });
  }

  /**
   * An init container's command, run to completion before the pod's containers start, on the pod's
   * volumes; the image's own files are those of init-images.ts (the same release, from Maven Central).
   */
  private runInitContainer(pod: KafkaPod, init: ContainerSpec & { image: string }): void {
    const podSpec = pod.statefulSet.spec.template.spec;
    const imageFiles = initImageFiles(init.image);
    const filesystem = new ContainerFilesystem(pod.dir, podSpec, init, this.manifests.configMaps, pod.statefulSet.spec.volumeClaimTemplates, true, false, this.secrets);
    const [command, ...args] = [...(init.command ?? []), ...(init.args ?? [])].map((token) => imageFiles.get(token) ?? filesystem.translate(token));
    const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
    if (result.status !== 0) throw new Error(`${pod.identity.name}: init container ${init.name} failed (${result.status ?? result.error}): ${result.stderr}`);
  }

  private externalAddress(pod: KafkaPod): string | undefined {
    if (!pod.configDir || !fs.existsSync(path.join(pod.configDir, 'server.properties'))) return undefined;
    const advertised = this.serverProperties(pod.ordinal).get('advertised.listeners') ?? '';
    return advertised
      .split(',')
      .map((listener) => listener.slice(listener.indexOf('://') + 3))
      .find((address) => address.startsWith('localhost:'));
  }

  /** Wait until every running broker is registered with the quorum and serves metadata. */
  private async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs;
    const expected = this.pods.filter((pod) => pod.process).length;
    const watched = this.allPods.filter((pod) => pod.process);
    let lastError = 'no external listener address yet';
    let userCreated = false;
    while (Date.now() < deadline) {
      for (const pod of watched) {
        const child = pod.process;
        if (child && (child.exitCode !== null || child.signalCode !== null)) {
          throw new Error(`${pod.identity.name} exited (${child.exitCode ?? child.signalCode}):\n${tail(path.join(pod.dir, 'console.log'))}`);
        }
      }
      const brokers = this.externalBootstrapServers;
      if (brokers.length === this.brokerCount && this.security && !userCreated) {
        // The SASL listeners admit no one before the harness's SCRAM user exists: create it on the admin listener.
        const created = await this.upsertScramUser(this.security.user.username, this.security.user.password);
        userCreated = created.exitCode === 0;
        lastError = userCreated ? 'SCRAM user created' : `kafka-configs.sh: ${created.output.trim().split('\n').slice(-3).join(' ')}`;
      }
      if (brokers.length === this.brokerCount && (!this.security || userCreated)) {
        const admin = new Kafka({ clientId: 'kafka-harness', brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 }, ...this.clientConfig() }).admin();
        try {
          await admin.connect();
          const { brokers: registered } = await admin.describeCluster();
          if (registered.length >= expected) return;
          lastError = `${registered.length} of ${expected} brokers registered`;
        } catch (error) {
          lastError = String(error);
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      }
      await sleep(1_000);
    }
    const logs = this.allPods.map((pod) => `--- ${pod.identity.name}\n${tail(path.join(pod.dir, 'console.log'), 20)}`).join('\n');
    throw new Error(`the Kafka cluster was not ready within ${this.readyTimeoutMs} ms (${lastError})\n${logs}`);
  }
}
