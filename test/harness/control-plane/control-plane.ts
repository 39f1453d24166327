import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DAPR_CONTROL_PLANE } from '../../../verify/checks/cluster';
import { ROOT } from '../../support/synth';
import { CONTROL_PLANE, locateBuild } from '../go-builds';
import { killGroup, type ProcessResult, ProcessWatchdog, runProcess, sleep, tail } from '../processes';

// A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager built
// from the Go module proxy (build.sh), optionally kube-scheduler and kwok's
// simulated nodes, so that pods are scheduled and reported Running and Ready. Client-certificate
// authentication, RBAC and the default admission plugins (PodSecurity among them), as a kubeadm
// cluster runs them.

export const CONTEXT = 'learnflow-test';

/** The StorageClass the harness marks as the default; its volumes are pre-created (no provisioner runs). */
export const STORAGE_CLASS = 'standard';

/**
 * The CRDs of LearnFlow's prerequisites, as Dapr's chart, prometheus-operator and cert-manager install them
 * (vendored in reference/): cert-manager's for the production profile's PostgreSQL Certificate.
 */
export const PREREQUISITE_CRD_DIRS = ['dapr-crds', 'prometheus-operator-crds', 'cert-manager-crds'].map((dir) => path.join(ROOT, 'reference', dir));

export interface ControlPlaneOptions {
  /** Start kube-scheduler and kwok with `nodes` simulated nodes, so pods run and become Ready. @default 0 */
  readonly nodes?: number;
  /** Allocatable capacity of each simulated node. @default { cpu: '8', memory: '32Gi', 'ephemeral-storage': '100Gi', pods: '110' } */
  readonly nodeCapacity?: Readonly<Record<'cpu' | 'memory' | 'ephemeral-storage' | 'pods', string>>;
  /** How many PersistentVolumes of the default StorageClass to create for claims to bind. @default 12 */
  readonly volumes?: number;
  /** Install the CRDs of these directories (every .yaml in each), e.g. PREREQUISITE_CRD_DIRS. @default - none */
  readonly crdDirs?: readonly string[];
  /** How long the API server may take to answer /readyz. @default 60000 */
  readonly readyTimeoutMs?: number;
}

interface Component {
  readonly name: string;
  readonly process: ChildProcess;
  readonly log: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Key and certificate signed by the harness CA, made with the openssl CLI. */
async function issue(dir: string, name: string, subject: string, extensions: string[], ca?: string): Promise<void> {
  const config = path.join(dir, `${name}.cnf`);
  fs.writeFileSync(config, ['[req]', 'distinguished_name = dn', '[dn]', '[ext]', ...extensions, ''].join('\n'));
  const args = ['req', '-x509', '-config', config, '-extensions', 'ext', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  args.push('-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.crt`), '-subj', subject, '-days', '2');
  if (ca) args.push('-CA', path.join(dir, `${ca}.crt`), '-CAkey', path.join(dir, `${ca}.key`));
  const result = await runProcess('openssl', args, process.env, 30_000);
  if (result.exitCode !== 0) throw new Error(`openssl could not issue ${name}: ${result.output}`);
}

// The Go programs (the components, and every kubectl run against the plane) collect garbage at 4x the live
// heap instead of 2x (GOGC=100): they allocate a lot that soon dies (kube-apiserver builds every built-in and
// CRD OpenAPI schema at start; kubectl decodes lists of megabytes of CRDs), and the collections were a third of
// kube-apiserver's CPU from start to the CRDs established (4.5 -> 3.0 s) and a quarter of kubectl's (20 gets
// and applies: 3.7 -> 2.8 s), measured on the shared 2 cores. Only how often the collector runs changes, not
// what the programs do; a few hundred MB more heap.
const GO_GOGC = '400';

const LEAF = ['basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature, keyEncipherment'];

function kubeconfig(server: string, caFile: string, certFile: string, keyFile: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CONTEXT, cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: CONTEXT, user: { 'client-certificate': certFile, 'client-key': keyFile } }],
    contexts: [{ name: CONTEXT, context: { cluster: CONTEXT, user: CONTEXT } }],
    'current-context': CONTEXT,
  });
}

/** The directory of the built kube-apiserver, kube-controller-manager, kube-scheduler, kwok and kubectl. */
function controlPlaneBinaries(): string {
  const located = locateBuild(CONTROL_PLANE);
  if (!located.path) throw new Error(located.missing);
  return located.path;
}

const liveControlPlanes = new Set<ControlPlane>();
let exitHookInstalled = false;

export class ControlPlane {
  /** A kubeconfig with the admin credential (group system:masters) and the context `learnflow-test`. */
  readonly kubeconfig: string;
  readonly server: string;
  /** Directory holding kubectl and the control-plane binaries. */
  readonly binDir: string;
  /** From starting etcd to /readyz answering ok. */
  startupMs = 0;
  private readonly components: Component[] = [];
  private readonly watchdog: ProcessWatchdog;

  private constructor(
    private readonly dir: string,
    binDir: string,
    private readonly apiPort: number,
  ) {
    this.binDir = binDir;
    this.server = `https://127.0.0.1:${apiPort}`;
    this.kubeconfig = path.join(dir, 'admin.kubeconfig');
    this.watchdog = new ProcessWatchdog(dir, 'control-plane-watchdog');
  }

  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const binDir = controlPlaneBinaries();
    // etcd's data on tmpfs: fsyncs would dominate an apply on a busy disk.
    const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
    const dir = fs.mkdtempSync(path.join(base, 'learnflow-control-plane-'));
    const plane = new ControlPlane(dir, binDir, await freePort());
    liveControlPlanes.add(plane);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const live of liveControlPlanes) live.killNow();
      });
    }
    try {
      await plane.boot(options);
      return plane;
    } catch (error) {
      plane.killNow();
      throw error;
    }
  }

  /** Environment for a child process (kubectl, deploy, verify) that talks to this control plane. */
  get env(): NodeJS.ProcessEnv {
    return { ...process.env, KUBECONFIG: this.kubeconfig, PATH: `${this.binDir}${path.delimiter}${process.env.PATH}`, GOGC: GO_GOGC };
  }

  /** kubectl against this control plane. */
  kubectl(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<ProcessResult> {
    return runProcess(path.join(this.binDir, 'kubectl'), args, this.env, options.timeoutMs ?? 60_000, options.input);
  }

  /** kubectl that must succeed; returns its stdout. */
  async kubectlOk(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const result = await this.kubectl(args, options);
    if (result.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.exitCode}):\n${result.output}`);
    return result.stdout;
  }

  /** A kubectl get as parsed JSON. */
  async getJson<T = any>(args: readonly string[]): Promise<T> {
    return JSON.parse(await this.kubectlOk(['get', ...args, '-o', 'json']));
  }

  /** The log of one component (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok). */
  log(name: string, lines = 60): string {
    return tail(path.join(this.dir, `${name}.log`), lines);
  }

  async stop(): Promise<void> {
    const running = [...this.components].reverse();
    for (const component of running) killGroup(component.process, 'SIGTERM');
    await Promise.race([Promise.all(running.map((c) => new Promise((resolve) => (c.process.exitCode !== null ? resolve(0) : c.process.once('exit', resolve))))), sleep(10_000)]);
    this.killNow();
  }

  /** Synchronous teardown, also used by the process exit hook. */
  killNow(): void {
    for (const component of this.components) killGroup(component.process, 'SIGKILL');
    this.watchdog.dismiss();
    liveControlPlanes.delete(this);
  }

  private launch(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Component {
    const log = path.join(this.dir, `${name}.log`);
    const child = this.watchdog.spawn(command, args, { PATH: process.env.PATH, HOME: this.dir, GOGC: GO_GOGC, ...env }, log);
    const component = { name, process: child, log };
    this.components.push(component);
    return component;
  }

  private assertRunning(): void {
    for (const component of this.components) {
      if (component.process.exitCode !== null || component.process.signalCode !== null) {
        throw new Error(`${component.name} exited (${component.process.exitCode ?? component.process.signalCode}):\n${tail(component.log)}`);
      }
    }
  }

  private async boot(options: ControlPlaneOptions): Promise<void> {
    const started = Date.now();
    const { dir } = this;
    const bin = (name: string) => path.join(this.binDir, name);
    const file = (name: string) => path.join(dir, name);

    await issue(dir, 'ca', '/CN=learnflow-test-ca', ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign']);
    const serverSans = 'subjectAltName = IP:127.0.0.1, DNS:localhost, IP:10.96.0.1, DNS:kubernetes.default.svc';
    await Promise.all([
      issue(dir, 'apiserver', '/CN=kube-apiserver', [...LEAF, 'extendedKeyUsage = serverAuth', serverSans], 'ca'),
      issue(dir, 'admin', '/O=system:masters/CN=learnflow-admin', [...LEAF, 'extendedKeyUsage = clientAuth'], 'ca'),
      issue(dir, 'controller-manager', '/CN=system:kube-controller-manager', [...LEAF, 'extendedKeyUsage = clientAuth'], 'ca'),
      issue(dir, 'scheduler', '/CN=system:kube-scheduler', [...LEAF, 'extendedKeyUsage = clientAuth'], 'ca'),
      // kwok acts for the nodes; system:masters keeps the harness free of a hand-written ClusterRole for it.
      issue(dir, 'kwok', '/O=system:masters/CN=kwok', [...LEAF, 'extendedKeyUsage = clientAuth'], 'ca'),
    ]);
    const serviceAccountKey = await runProcess('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('sa.key')], process.env, 30_000);
    if (serviceAccountKey.exitCode !== 0) throw new Error(`openssl could not make the service-account key: ${serviceAccountKey.output}`);
    for (const user of ['admin', 'controller-manager', 'scheduler', 'kwok']) {
      fs.writeFileSync(file(`${user}.kubeconfig`), kubeconfig(this.server, file('ca.crt'), file(`${user}.crt`), file(`${user}.key`)));
    }

    const [etcdClient, etcdPeer] = [await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    this.launch('etcd', path.join(this.binDir, 'etcd'), [
      '--name=learnflow-test',
      `--data-dir=${file('etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=learnflow-test=http://127.0.0.1:${etcdPeer}`,
      '--log-level=warn',
    ]);

    this.launch('kube-apiserver', bin('kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${this.apiPort}`,
      `--tls-cert-file=${file('apiserver.crt')}`,
      `--tls-private-key-file=${file('apiserver.key')}`,
      `--client-ca-file=${file('ca.crt')}`,
      '--authorization-mode=RBAC',
      // The default admission plugins (PodSecurity, ServiceAccount, DefaultStorageClass, ...) stay on.
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${file('sa.key')}`,
      `--service-account-signing-key-file=${file('sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      // The `kubernetes` Service's endpoints would be 127.0.0.1, which EndpointSlice validation refuses.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
    ]);
    await this.waitUntilReady(options.readyTimeoutMs ?? 60_000);
    this.startupMs = Date.now() - started;

    this.launch('kube-controller-manager', bin('kube-controller-manager'), [
      ...(await this.componentFlags('controller-manager')),
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${file('sa.key')}`,
      `--root-ca-file=${file('ca.crt')}`,
      '--cluster-name=learnflow-test',
      '--profiling=false',
    ]);

    await this.createStorage(options.volumes ?? 12);
    if (options.crdDirs?.length) await this.installCrds(options.crdDirs);
    if ((options.nodes ?? 0) > 0) await this.startNodes(options);
    this.assertRunning();
  }

  /**
   * Workloads named as Dapr's control plane in dapr-system (what deploy's preflight and the verifier
   * look for), run by the simulated nodes: the Dapr control plane itself is a prerequisite, not under
   * test, and its images cannot run here. They tolerate every taint, so a test can keep LearnFlow's pods
   * off the nodes while Dapr stays available.
   */
  async installDaprStandIn(): Promise<void> {
    const namespace = DAPR_CONTROL_PLANE.namespace;
    const workload = (kind: string, name: string) => ({
      apiVersion: 'apps/v1',
      kind,
      metadata: { name, namespace },
      spec: {
        replicas: 1,
        ...(kind === 'StatefulSet' ? { serviceName: name } : {}),
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { tolerations: [{ operator: 'Exists' }], containers: [{ name, image: `ghcr.io/dapr/${name}:stand-in` }] },
        },
      },
    });
    const items = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
      ...DAPR_CONTROL_PLANE.deployments.map((name) => workload('Deployment', name)),
      ...DAPR_CONTROL_PLANE.statefulSets.map((name) => workload('StatefulSet', name)),
    ];
    await this.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
    for (const item of items.slice(1)) {
      await this.kubectlOk(['rollout', 'status', `${item.kind.toLowerCase()}/${item.metadata.name}`, '-n', namespace, '--timeout=120s'], { timeoutMs: 130_000 });
    }
  }

  /** The flags kube-controller-manager and kube-scheduler share: their credential, loopback serving, one instance. */
  private async componentFlags(user: string): Promise<string[]> {
    const kubeconfigFile = path.join(this.dir, `${user}.kubeconfig`);
    return [
      `--kubeconfig=${kubeconfigFile}`,
      `--authentication-kubeconfig=${kubeconfigFile}`,
      `--authorization-kubeconfig=${kubeconfigFile}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${await freePort()}`,
      '--leader-elect=false',
    ];
  }

  private async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      this.assertRunning();
      const result = await this.kubectl(['get', '--raw=/readyz'], { timeoutMs: 5_000 });
      if (result.exitCode === 0 && result.stdout.trim() === 'ok') return;
      last = result.output.trim();
      await sleep(250);
    }
    throw new Error(`kube-apiserver was not ready within ${timeoutMs} ms (${last}):\n${this.log('kube-apiserver')}`);
  }

  /**
   * A default StorageClass and pre-created volumes for claims to bind: no provisioner runs here. The
   * class allows expansion, like minikube's and most clouds' default classes.
   */
  private async createStorage(volumes: number): Promise<void> {
    const storageClass = {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: STORAGE_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'learnflow.test/pre-created',
      allowVolumeExpansion: true,
      volumeBindingMode: 'Immediate',
    };
    const persistentVolumes = Array.from({ length: volumes }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `pv-${String(i).padStart(2, '0')}` },
      spec: {
        storageClassName: STORAGE_CLASS,
        capacity: { storage: '500Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        hostPath: { path: `/var/lib/learnflow-test/pv-${i}` },
      },
    }));
    await this.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [storageClass, ...persistentVolumes] }) });
  }

  private async installCrds(crdDirs: readonly string[]): Promise<void> {
    // One kubectl for all of them (each -f a directory: its .yaml files, in name order): a kubectl start and
    // its discovery per file cost more than the applies.
    await this.kubectlOk(['apply', '--server-side', ...crdDirs.flatMap((crdDir) => ['-f', crdDir])]);
    await this.kubectlOk(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  }

  private async startNodes(options: ControlPlaneOptions): Promise<void> {
    const capacity = options.nodeCapacity ?? { cpu: '8', memory: '32Gi', 'ephemeral-storage': '100Gi', pods: '110' };
    this.launch('kube-scheduler', path.join(this.binDir, 'kube-scheduler'), await this.componentFlags('scheduler'));
    this.launch('kwok', path.join(this.binDir, 'kwok'), [
      `--kubeconfig=${path.join(this.dir, 'kwok.kubeconfig')}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom',
      '--cidr=10.244.0.0/16',
      '--node-ip=10.244.0.1',
      '--node-lease-duration-seconds=40',
    ]);
    const nodes = Array.from({ length: options.nodes ?? 0 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: `node-${i}`,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: { 'kubernetes.io/hostname': `node-${i}`, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
      },
      status: { allocatable: capacity, capacity },
    }));
    await this.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: nodes }) });
    await this.kubectlOk(['wait', '--for=condition=Ready', 'node', '--all', '--timeout=60s']);
  }
}
