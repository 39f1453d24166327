import { type ChildProcess, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { K8sObject } from '../../support/synth';
import { isAlive, killGroup, type ProcessResult, ProcessWatchdog, runProcess, sleep, tail } from '../processes';
import { initImageFiles } from './init-images';
import { kafkaJarsDir } from './jars';
import { IMAGE_DEFAULTS_DIR, writeKafkaHome } from './kafka-home';
import { type KafkaManifests, loadKafkaManifests } from './manifests';
import { ContainerFilesystem, containerCommand, type PodIdentity, resolveContainerEnv, serviceLinkEnv } from './pod';

const IMAGE_RUN_SCRIPT = path.join(__dirname, 'image-run.sh');
const IMAGE_LAUNCHER = '/etc/kafka/docker/run';

interface BrokerPod {
  readonly ordinal: number;
  readonly identity: PodIdentity;
  readonly dir: string;
  /** Where the image's launcher writes server.properties (the host side of /opt/kafka/config). */
  configDir?: string;
  process?: ChildProcess;
  exited?: Promise<void>;
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
    const libDir = kafkaJarsDir(manifests.kafkaVersion);
    await acquireHostLock(options.lockTimeoutMs ?? 600_000);
    let cluster: KafkaTestCluster;
    try {
      cluster = new KafkaTestCluster(manifests, libDir, options.readyTimeoutMs ?? 180_000);
    } catch (error) {
      releaseHostLock();
      throw error;
    }
    try {
      const launched = Date.now();
      for (const pod of cluster.pods) cluster.launch(pod);
      await cluster.waitUntilReady();
      cluster.startupMs = Date.now() - launched;
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  readonly kafkaVersion: string;
  /** A KAFKA_HOME whose bin/ tools run the real Kafka classes and resolve the cluster's DNS names. */
  readonly kafkaHome: string;
  readonly brokerCount: number;
  /** From launching the pods to a ready cluster (not counting the jar download or the host lock). */
  startupMs = 0;
  private readonly dir: string;
  private readonly pods: BrokerPod[];
  private readonly watchdog: ProcessWatchdog;
  private jobRuns = 0;

  private constructor(
    readonly manifests: KafkaManifests,
    libDir: string,
    private readonly readyTimeoutMs: number,
  ) {
    const sts = manifests.statefulSet;
    this.kafkaVersion = manifests.kafkaVersion;
    this.brokerCount = sts.spec.replicas ?? 1;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'learnflow-kafka-'));
    this.kafkaHome = path.join(this.dir, 'kafka-home');
    const namespace = sts.metadata.namespace ?? 'default';
    const template = sts.spec.template.metadata ?? {};
    this.pods = Array.from({ length: this.brokerCount }, (_, ordinal) => {
      const name = `${sts.metadata.name}-${ordinal}`;
      const labels = {
        ...template.labels,
        'apps.kubernetes.io/pod-index': String(ordinal),
        'statefulset.kubernetes.io/pod-name': name,
      };
      const identity = { name, namespace, labels, annotations: template.annotations ?? {}, podIP: `127.0.0.${ordinal + 1}` };
      return { ordinal, identity, dir: path.join(this.dir, name) };
    });

    const hostsFile = path.join(this.dir, 'hosts');
    fs.writeFileSync(hostsFile, this.hostsFileContent());
    writeKafkaHome(this.kafkaHome, libDir, hostsFile);

    this.watchdog = new ProcessWatchdog(this.dir, 'kafka-harness-watchdog');
    installExitHook();
    liveClusters.add(this);
  }

  /** The external listeners' addresses (localhost:<19092+i>), as an operator reaches them through port-forward. */
  get externalBootstrapServers(): string[] {
    return this.pods.map((pod) => this.externalAddress(pod)).filter((address): address is string => address !== undefined);
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
    return fs.readFileSync(path.join(this.pods[ordinal].dir, 'console.log'), 'utf8');
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

  /**
   * CPU seconds (user + system) used so far by the live processes of broker `ordinal`'s pod (its process
   * group: the JVM and the shell that launched it), from /proc (clock ticks of CLK_TCK, 100 on Linux).
   */
  brokerCpuSeconds(ordinal: number): number {
    const pgid = this.pods[ordinal].process?.pid;
    if (pgid === undefined) throw new Error(`${this.pods[ordinal].identity.name} is not running`);
    let ticks = 0;
    for (const entry of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // exited meanwhile
      }
      // proc(5): after "pid (comm) ", fields from state (3) on; pgrp is field 5, utime 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks / 100;
  }

  /** Stop broker `ordinal` as Kubernetes deletes a pod: SIGTERM, then SIGKILL after the grace period. */
  async stop(ordinal: number, gracePeriodMs = 60_000): Promise<void> {
    const pod = this.pods[ordinal];
    if (!pod.process) return;
    killGroup(pod.process, 'SIGTERM');
    const killed = await Promise.race([pod.exited!.then(() => false), sleep(gracePeriodMs).then(() => true)]);
    if (killed) {
      killGroup(pod.process, 'SIGKILL');
      await pod.exited;
    }
    pod.process = undefined;
  }

  /** Start broker `ordinal` again (a new pod on the same volume) and wait until the cluster is whole. */
  async start(ordinal: number): Promise<void> {
    const pod = this.pods[ordinal];
    if (pod.process) throw new Error(`${pod.identity.name} is running`);
    this.launch(pod);
    await this.waitUntilReady();
  }

  /** Kill every process and remove every file of the cluster. */
  async close(): Promise<void> {
    const running = this.pods.filter((pod) => pod.process);
    this.killNow();
    await Promise.all(running.map((pod) => pod.exited));
  }

  /** Synchronous teardown, also used by the process exit hook. */
  killNow(): void {
    for (const pod of this.pods) killGroup(pod.process, 'SIGKILL');
    this.watchdog.dismiss();
    liveClusters.delete(this);
    releaseHostLock();
  }

  /** Run a bin/ tool of `kafkaHome` from the host (e.g. kafka-metadata-quorum.sh). */
  runTool(tool: string, args: readonly string[], timeoutMs = 60_000): Promise<ProcessResult> {
    return runProcess(path.join(this.kafkaHome, 'bin', tool), args, { PATH: process.env.PATH, HOME: this.dir }, timeoutMs);
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
    const container = podSpec.containers[0];
    const configMaps = this.manifests.configMaps.map((configMap): K8sObject => {
      const mounted = (podSpec.volumes ?? []).some((v: { configMap?: { name: string } }) => v.configMap?.name === configMap.metadata.name);
      if (options.topicsConf === undefined || !mounted || configMap.data?.['topics.conf'] === undefined) return configMap;
      return { ...configMap, data: { ...configMap.data, 'topics.conf': options.topicsConf } };
    });
    const name = `${job.metadata.name}-run${++this.jobRuns}`;
    const identity: PodIdentity = {
      name,
      namespace: job.metadata.namespace ?? 'default',
      labels: { ...job.spec.template.metadata?.labels, 'batch.kubernetes.io/job-name': job.metadata.name, 'job-name': job.metadata.name },
      annotations: job.spec.template.metadata?.annotations ?? {},
      podIP: '127.0.0.100',
    };
    const filesystem = new ContainerFilesystem(path.join(this.dir, name), podSpec, container, configMaps);
    const resolved = resolveContainerEnv(container, identity, this.serviceLinks(podSpec));
    const env = { ...this.processEnv(resolved, identity, filesystem), ...options.env };
    // The one addition to the Job's environment: where the tools are (the script defaults to /opt/kafka).
    env.KAFKA_HOME = this.kafkaHome;
    const [command, ...args] = containerCommand(container, resolved).map((token) => filesystem.translate(token));
    return runProcess(command, args, env, options.timeoutMs ?? 180_000);
  }

  private hostsFileContent(): string {
    const sts = this.manifests.statefulSet;
    const namespace = sts.metadata.namespace ?? 'default';
    const lines = ['127.0.0.1 localhost'];
    for (const pod of this.pods) lines.push(`${pod.identity.podIP} ${pod.identity.name}.${sts.spec.serviceName}.${namespace}.svc.cluster.local`);
    // A Service name resolves to its pods (a headless Service does exactly that; for a ClusterIP Service
    // the clients' use_all_dns_ips lookup stands in for kube-proxy's choice of a pod).
    for (const service of this.manifests.services) {
      for (const pod of this.pods) lines.push(`${pod.identity.podIP} ${service.metadata.name}.${namespace}.svc.cluster.local`);
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

  private launch(pod: BrokerPod): void {
    const podSpec = this.manifests.statefulSet.spec.template.spec;
    const container = podSpec.containers[0];
    // A new pod: fresh emptyDirs, the PVC directory kept.
    const filesystem = new ContainerFilesystem(pod.dir, podSpec, container, this.manifests.configMaps, this.manifests.statefulSet.spec.volumeClaimTemplates);
    for (const init of podSpec.initContainers ?? []) this.runInitContainer(pod, init);
    const resolved = resolveContainerEnv(container, pod.identity, this.serviceLinks(podSpec));
    const env = this.processEnv(resolved, pod.identity, filesystem);

    const logDir = resolved.get('LOG_DIR') ?? '/opt/kafka/logs';
    const hostLogDir = filesystem.writableHostPath(logDir);
    if (!hostLogDir) throw new Error(`${pod.identity.name}: LOG_DIR ${logDir} is on the read-only root filesystem; kafka-run-class.sh cannot create it`);
    pod.configDir = filesystem.writableHostPath('/opt/kafka/config');
    const mountedConfigs = path.join(pod.dir, 'mnt-shared-config');
    fs.mkdirSync(mountedConfigs, { recursive: true });
    const launcher = path.join(pod.dir, 'etc-kafka-docker-run');
    const exports = {
      LEARNFLOW_HARNESS_KAFKA_HOME: this.kafkaHome,
      LEARNFLOW_HARNESS_IMAGE_DEFAULTS: IMAGE_DEFAULTS_DIR,
      LEARNFLOW_HARNESS_MOUNTED_CONFIGS: mountedConfigs,
      LEARNFLOW_HARNESS_CONFIG_DIR: pod.configDir ?? '',
      LEARNFLOW_HARNESS_POD_IP: pod.identity.podIP,
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
  }

  /**
   * An init container's command, run to completion before the broker starts, on the pod's volumes; the
   * image's own files are those of init-images.ts (the same release, from Maven Central).
   */
  private runInitContainer(pod: BrokerPod, init: { name: string; image: string; command?: string[]; args?: string[]; volumeMounts?: { name: string; mountPath: string }[] }): void {
    const podSpec = this.manifests.statefulSet.spec.template.spec;
    const imageFiles = initImageFiles(init.image);
    const filesystem = new ContainerFilesystem(pod.dir, podSpec, init, this.manifests.configMaps, this.manifests.statefulSet.spec.volumeClaimTemplates, true, true);
    const [command, ...args] = [...(init.command ?? []), ...(init.args ?? [])].map((token) => imageFiles.get(token) ?? filesystem.translate(token));
    const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
    if (result.status !== 0) throw new Error(`${pod.identity.name}: init container ${init.name} failed (${result.status ?? result.error}): ${result.stderr}`);
  }

  private externalAddress(pod: BrokerPod): string | undefined {
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
    let lastError = 'no external listener address yet';
    while (Date.now() < deadline) {
      for (const pod of this.pods) {
        const child = pod.process;
        if (child && (child.exitCode !== null || child.signalCode !== null)) {
          throw new Error(`${pod.identity.name} exited (${child.exitCode ?? child.signalCode}):\n${tail(path.join(pod.dir, 'console.log'))}`);
        }
      }
      const brokers = this.externalBootstrapServers;
      if (brokers.length === this.brokerCount) {
        const admin = new Kafka({ clientId: 'kafka-harness', brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
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
    const logs = this.pods.map((pod) => `--- ${pod.identity.name}\n${tail(path.join(pod.dir, 'console.log'), 20)}`).join('\n');
    throw new Error(`the Kafka cluster was not ready within ${this.readyTimeoutMs} ms (${lastError})\n${logs}`);
  }
}
