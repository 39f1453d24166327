import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { kafkaRelease } from '../lib/kafka/features-job';
import { renderTopicsConf } from '../lib/kafka/topics-job';
import { envOf, findObject, synthObjects } from './support/synth';

describe('Kafka StatefulSet', () => {
  const minikube = synthObjects();
  const production = synthObjects({ profile: 'production' });
  const sts = (objects: typeof minikube) => findObject(objects, 'StatefulSet', 'kafka');
  const container = (objects: typeof minikube) => sts(objects).spec.template.spec.containers[0];

  it('avoids the KRaft-on-StatefulSet traps', () => {
    for (const objects of [minikube, production]) {
      expect(sts(objects).spec.podManagementPolicy).toBe('Parallel');
      expect(sts(objects).spec.template.spec.enableServiceLinks).toBe(false);
      expect(findObject(objects, 'Service', 'kafka-headless').spec.publishNotReadyAddresses).toBe(true);
      expect(findObject(objects, 'Service', 'kafka-headless').spec.clusterIP).toBe('None');
    }
  });

  const controllerSts = (objects: typeof minikube) => findObject(objects, 'StatefulSet', 'kafka-controller');
  const controllerContainer = (objects: typeof minikube) => controllerSts(objects).spec.template.spec.containers[0];

  it('takes the node id from the pod-index label and lists one static voter per controller', () => {
    const node = container(production).env.find((e: { name: string }) => e.name === 'KAFKA_NODE_ID');
    expect(node.valueFrom.fieldRef.fieldPath).toBe("metadata.labels['apps.kubernetes.io/pod-index']");
    // Production: the voters are the controller StatefulSet's pods, node ids 100.., never a broker's.
    const voters = [0, 1, 2].map((i) => `${100 + i}@kafka-controller-${i}.kafka-controller-headless.kafka.svc.cluster.local:9093`).join(',');
    expect(envOf(container(production)).KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(voters);
    expect(envOf(controllerContainer(production)).KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(voters);
    expect(controllerContainer(production).args[0]).toContain('export KAFKA_NODE_ID=$((100 + POD_INDEX))');
    // minikube: one combined node, its own voter.
    expect(envOf(container(minikube)).KAFKA_CONTROLLER_QUORUM_VOTERS).toBe('0@kafka-0.kafka-headless.kafka.svc.cluster.local:9093');
    expect(envOf(container(minikube)).KAFKA_PROCESS_ROLES).toBe('broker,controller');
  });

  it('keeps the voter set when the broker count changes, and gives controllers only the controller listener', () => {
    const voters = (objects: typeof minikube) => envOf(controllerContainer(objects)).KAFKA_CONTROLLER_QUORUM_VOTERS;
    const five = synthObjects({ profile: 'production', override: { kafka: { brokers: 5 } } });
    expect(sts(five).spec.replicas).toBe(5);
    expect(voters(five)).toBe(voters(production));
    expect(controllerSts(five).spec).toEqual(controllerSts(production).spec);
    const env = envOf(controllerContainer(production));
    expect(env.KAFKA_PROCESS_ROLES).toBe('controller');
    expect(env.KAFKA_LISTENERS).toBe('CONTROLLER://:9093');
    // The stock launcher exits when a controller sets advertised listeners.
    expect(controllerContainer(production).args[0]).not.toContain('KAFKA_ADVERTISED_LISTENERS');
    expect(envOf(container(production)).KAFKA_PROCESS_ROLES).toBe('broker');
    const fiveVoters = synthObjects({ profile: 'production', override: { kafka: { controllers: 5 } } });
    expect(controllerSts(fiveVoters).spec.replicas).toBe(5);
    expect(voters(fiveVoters)?.split(',')).toHaveLength(5);
  });

  it('derives a cluster id per install, stable across synths, unless the config pins one', () => {
    const id = (objects: typeof minikube) => envOf(container(objects)).CLUSTER_ID;
    expect(id(synthObjects())).toBe(id(minikube));
    expect(id(minikube)).toMatch(/^[A-Za-z0-9_-]{21}[AQgw]$/);
    expect(id(synthObjects({ override: { platform: { namespaces: { kafka: 'kafka-staging' } } } }))).not.toBe(id(minikube));
    const renamed = synthObjects({ override: { kafka: { name: 'events' } } });
    expect(envOf(findObject(renamed, 'StatefulSet', 'events').spec.template.spec.containers[0]).CLUSTER_ID).not.toBe(id(minikube));
    expect(id(synthObjects({ override: { kafka: { clusterId: 'MkU3OEVBNTcwNTJENDM2Qg' } } }))).toBe('MkU3OEVBNTcwNTJENDM2Qg');
    // Brokers and controllers of one install agree.
    expect(envOf(controllerContainer(production)).CLUSTER_ID).toBe(id(production));
  });

  it('refuses to start on a volume of another cluster, before Kafka runs', () => {
    const script = container(minikube).args[0];
    expect(script.indexOf('holds the data of another Kafka cluster')).toBeGreaterThan(-1);
    expect(script.indexOf('holds the data of another Kafka cluster')).toBeLessThan(script.indexOf('exec /etc/kafka/docker/run'));
  });

  it('derives replication settings from the broker count', () => {
    const one = envOf(container(minikube));
    const three = envOf(container(production));
    for (const key of ['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', 'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR', 'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR', 'KAFKA_DEFAULT_REPLICATION_FACTOR']) {
      expect(one[key], key).toBe('1');
      expect(three[key], key).toBe('3');
    }
    expect(one.KAFKA_MIN_INSYNC_REPLICAS).toBe('1');
    expect(three.KAFKA_MIN_INSYNC_REPLICAS).toBe('2');
    expect(three.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR).toBe('2');
  });

  it('advertises each broker on its own port-forward port', () => {
    const script = container(production).args[0];
    expect(script).toContain('EXTERNAL://localhost:$((19092 + POD_INDEX))');
    expect(script).toMatch(/exec \/etc\/kafka\/docker\/run$/);
  });

  it('sizes the heap from the memory limit', () => {
    // minikube: 1Gi limit x 50% ; production: 4Gi x 50%.
    expect(envOf(container(minikube)).KAFKA_HEAP_OPTS).toBe('-Xmx512m -Xms512m');
    expect(envOf(container(production)).KAFKA_HEAP_OPTS).toBe('-Xmx2048m -Xms2048m');
    const custom = synthObjects({ override: { kafka: { heapPercent: 25, resources: { limits: { memory: '3Gi' } } } } });
    expect(envOf(container(custom)).KAFKA_HEAP_OPTS).toBe('-Xmx768m -Xms768m');
  });

  it('keeps data: PVC retention Retain, the PVC over the image VOLUME, log dirs below the mount point', () => {
    const spec = sts(minikube).spec;
    // apache/kafka declares VOLUME /var/lib/kafka/data: a mount anywhere else leaves an anonymous
    // per-container volume there, over the PVC.
    expect(container(minikube).volumeMounts.find((m: { name: string }) => m.name === 'data').mountPath).toBe('/var/lib/kafka/data');
    expect(spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    const mount = container(minikube).volumeMounts.find((m: { name: string }) => m.name === 'data');
    expect(envOf(container(minikube)).KAFKA_LOG_DIRS?.startsWith(`${mount.mountPath}/`)).toBe(true);
    expect(spec.volumeClaimTemplates[0].metadata.name).toBe('data');
  });

  it('runs restricted: uid 1000, read-only root, writable paths on emptyDirs', () => {
    const pod = sts(minikube).spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container(minikube).securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    const emptyDirs = pod.volumes.filter((v: { emptyDir?: unknown }) => v.emptyDir).map((v: { name: string }) => v.name);
    const mounted = container(minikube).volumeMounts.map((m: { name: string; mountPath: string }) => m.mountPath);
    expect(emptyDirs).toEqual(['config', 'logs', 'tmp', 'readiness']);
    expect(mounted).toEqual(expect.arrayContaining(['/opt/kafka/config', '/opt/kafka/logs', '/tmp', '/var/run/kafka-readiness']));
    for (const each of pod.containers) expect(each.securityContext, each.name).toEqual(container(minikube).securityContext);
  });

  it('spreads brokers: required anti-affinity in production, preferred on minikube', () => {
    expect(sts(production).spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    expect(sts(minikube).spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    expect(findObject(production, 'PodDisruptionBudget', 'kafka').spec.maxUnavailable).toBe(1);
  });

  it('keeps a quorum and min.insync.replicas through drains: one pod per budget, unhealthy pods not evicted past it', () => {
    for (const name of ['kafka', 'kafka-controller']) {
      const budget = findObject(production, 'PodDisruptionBudget', name);
      expect(budget.spec.maxUnavailable, name).toBe(1);
      // AlwaysAllow would let a drain evict a pod that is not Ready because a peer catches up.
      expect(budget.spec.unhealthyPodEvictionPolicy, name).toBe('IfHealthyBudget');
      expect(budget.spec.selector.matchLabels, name).toEqual(findObject(production, 'StatefulSet', name).spec.selector.matchLabels);
    }
  });

  it('has probes, resources and a long grace period for controlled shutdown', () => {
    const c = container(minikube);
    expect(c.startupProbe.tcpSocket.port).toBe('internal');
    // No readiness probe runs before the startup probe passed: a longer period would delay every restart's readiness.
    expect(c.startupProbe.periodSeconds).toBeLessThanOrEqual(c.readinessProbe.periodSeconds);
    // Log recovery after an unclean stop may take minutes.
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(600);
    // Ready is judged from the JMX sample of the sidecar by a bash script, never by a JVM per probe.
    expect(c.readinessProbe.exec.command.slice(0, 2)).toEqual(['/bin/bash', '-c']);
    expect(c.readinessProbe.exec.command[2]).toContain('UnderReplicatedPartitions');
    expect(sts(minikube).spec.template.spec.containers[1].command[2]).toContain('org.apache.kafka.tools.JmxTool');
    expect(c.livenessProbe.tcpSocket.port).toBe('controller');
    expect(c.resources.limits.memory).toBe('1Gi');
    expect(sts(minikube).spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
  });
});

describe('the broker readiness probe on JMX samples (lib/kafka/readiness-check.sh, as dist/ runs it)', () => {
  const production = synthObjects({ profile: 'production' });
  const broker = findObject(production, 'StatefulSet', 'kafka').spec.template.spec;
  const [kafka, sidecar] = broker.containers;
  const env = envOf(kafka);
  // The header JmxTool prints for the sidecar's objects: its columns, quoted, after the time.
  const columns: string[] = (envOf(sidecar).READINESS_COLUMNS ?? '').split('\n');
  const probe = (values: Record<string, string>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'learnflow-readiness-'));
    try {
      fs.writeFileSync(path.join(dir, 'header'), `${['time', ...columns].map((c) => `"${c}"`).join(',')}\n`);
      const sample = columns.map((column) => values[column.split(',name=')[1]?.split(/[,:]/)[0]] ?? '0');
      fs.writeFileSync(path.join(dir, 'sample'), `${[Date.now(), ...sample].join(',')}\n`);
      const [program, ...args] = kafka.readinessProbe.exec.command;
      return spawnSync(program, args, { encoding: 'utf8', env: { PATH: process.env.PATH, READINESS_DIR: dir, READINESS_MAX_AGE_MS: env.READINESS_MAX_AGE_MS, KAFKA_PROCESS_ROLES: env.KAFKA_PROCESS_ROLES } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  it('samples the replica fetchers\' lag beside the broker state and the under-replicated partitions it leads', () => {
    expect(columns.map((c) => c.split(',name=')[1].split(/[,:]/)[0])).toEqual(['BrokerState', 'UnderReplicatedPartitions', 'MaxLag']);
  });

  it('is Ready for a running broker that leads nothing under-replicated and whose fetchers are caught up', () => {
    const result = probe({ BrokerState: '3' });
    expect(result.stdout.trim()).toBe('ready');
    expect(result.status).toBe(0);
  });

  it('is not Ready while the broker catches up as a follower (the roll gap under podManagementPolicy Parallel)', () => {
    const result = probe({ BrokerState: '3', MaxLag: '1742' });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('1742 message(s) behind a partition leader');
  });

  it('is not Ready while a partition it leads is under-replicated, nor before RUNNING', () => {
    expect(probe({ BrokerState: '3', UnderReplicatedPartitions: '2' }).stdout).toContain('2 partition(s) led here are under-replicated');
    expect(probe({ BrokerState: '2' }).stdout).toContain('broker state 2, not RUNNING (3)');
  });
});

describe('the readiness sidecar (lib/kafka/readiness-watch.sh, as dist/ runs it)', () => {
  const sidecar = findObject(synthObjects({ profile: 'production' }), 'StatefulSet', 'kafka').spec.template.spec.containers[1];
  const until = async (condition: () => boolean, ms: number) => {
    for (const deadline = Date.now() + ms; !condition() && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 100));
  };

  it("starts its JmxTool JVM only once the node's JMX port accepts connections, and stays alive meanwhile", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'learnflow-readiness-watch-'));
    // Our seam: the image's kafka-run-class.sh, here one that records each start and prints no header.
    const starts = path.join(dir, 'starts');
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.writeFileSync(path.join(dir, 'bin', 'kafka-run-class.sh'), `#!/bin/bash\necho "$*" >>'${starts}'\nexec sleep 30\n`, { mode: 0o755 });
    // A free port on the loopback, closed again: the node's JVM has not opened it yet.
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const env: NodeJS.ProcessEnv = { ...envOf(sidecar), PATH: process.env.PATH, KAFKA_HOME: dir, READINESS_DIR: dir };
    env.JMX_URL = envOf(sidecar).JMX_URL?.replace(/:\d+\/jmxrmi$/, `:${port}/jmxrmi`);
    const watch = spawn(sidecar.command[0], sidecar.command.slice(1), { env, stdio: 'ignore' });
    const jmx = net.createServer((socket) => socket.destroy());
    try {
      await until(() => fs.existsSync(path.join(dir, 'alive')), 5_000);
      const firstBeat = fs.readFileSync(path.join(dir, 'alive'), 'utf8');
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(fs.existsSync(starts)).toBe(false);
      // The loop still goes round (the liveness probe reads the heartbeat).
      expect(fs.readFileSync(path.join(dir, 'alive'), 'utf8')).not.toBe(firstBeat);
      await new Promise<void>((resolve) => jmx.listen(port, '127.0.0.1', resolve));
      await until(() => fs.existsSync(starts), 5_000);
      expect(fs.readFileSync(starts, 'utf8')).toContain(`org.apache.kafka.tools.JmxTool --jmx-url service:jmx:rmi:///jndi/rmi://127.0.0.1:${port}/jmxrmi`);
    } finally {
      const exited = new Promise((resolve) => watch.once('exit', resolve));
      watch.kill('SIGTERM');
      await exited;
      jmx.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);
});

describe('features Job', () => {
  const production = synthObjects({ profile: 'production' });
  const job = (objects: typeof production) => objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('kafka-features-'))!;
  const image = (objects: typeof production) => findObject(objects, 'StatefulSet', 'kafka').spec.template.spec.containers[0].image;

  it('runs last of the Kafka waves, on the brokers image, for its release, as a client the NetworkPolicies admit', () => {
    const container = job(production).spec.template.spec.containers[0];
    expect(job(production).metadata.annotations?.['argocd.argoproj.io/sync-wave']).toBe('13');
    expect(container.image).toBe(image(production));
    expect(container.image).toBe(findObject(production, 'StatefulSet', 'kafka-controller').spec.template.spec.containers[0].image);
    const env = envOf(container);
    expect(env.RELEASE_VERSION).toBe(kafkaRelease(image(production).split(':')[1]));
    expect(env.RELEASE_VERSION).toMatch(/^\d+\.\d+$/);
    const topicsJob = production.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('kafka-topics-'))!;
    expect(job(production).spec.template.metadata.labels['learnflow.dev/kafka-client']).toBe(topicsJob.spec.template.metadata.labels['learnflow.dev/kafka-client']);
    expect(env.BOOTSTRAP_SERVERS).toBe(envOf(topicsJob.spec.template.spec.containers[0]).BOOTSTRAP_SERVERS);
    expect(Number(env.WAIT_TIMEOUT_SECONDS)).toBeLessThan(job(production).spec.activeDeadlineSeconds);
  });

  it('an image of another release is a new Job for that release, which a deploy then runs; the broker count is not its concern', () => {
    const older = synthObjects({ profile: 'production', override: { kafka: { image: 'apache/kafka:4.2.2' } } });
    expect(envOf(job(older).spec.template.spec.containers[0]).RELEASE_VERSION).toBe('4.2');
    expect(job(older).metadata.name).not.toBe(job(production).metadata.name);
    const five = synthObjects({ profile: 'production', override: { kafka: { brokers: 5 } } });
    expect(job(five).metadata.name).toBe(job(production).metadata.name);
  });

  it('a failed run fires LearnflowJobFailed, as the other Jobs do', () => {
    const rules = production.find((o) => o.kind === 'PrometheusRule')!.spec.groups.flatMap((g: { rules: { alert?: string; expr: string }[] }) => g.rules);
    const expr: string = rules.find((r: { alert?: string }) => r.alert === 'LearnflowJobFailed').expr;
    const jobNames = new RegExp(`^(?:${/job_name=~"([^"]+)"/.exec(expr)![1]})$`);
    expect(job(production).metadata.name).toMatch(jobNames);
    expect(expr).toContain(`namespace=~"${job(production).metadata.namespace}|`);
  });

  it('the release is major.minor of the image version', () => {
    expect(kafkaRelease('4.3.1')).toBe('4.3');
    expect(kafkaRelease('4.10.0')).toBe('4.10');
  });
});

describe('topics Job', () => {
  it('declares the 9 LearnFlow topics and the verifier topic', () => {
    const conf = renderTopicsConf(loadConfig().kafka.topics);
    const lines = conf.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toHaveLength(10);
    expect(lines).toContain('learning.query 3 1 cleanup.policy=delete,min.insync.replicas=1,retention.ms=604800000');
    expect(lines).toContain('exercise.graded 2 1 cleanup.policy=delete,min.insync.replicas=1,retention.ms=2592000000');
    const production = renderTopicsConf(loadConfig({ profile: 'production' }).kafka.topics);
    expect(production).toContain('code.execution.result 3 3 cleanup.policy=delete,min.insync.replicas=2,retention.ms=259200000');
  });

  it('gives up: a deadline for a pod stuck before its script runs, bounded retries', () => {
    const job = findObject(synthObjects(), 'Job', /^kafka-topics-/);
    expect(job.spec.activeDeadlineSeconds).toBe(1800);
    expect(job.spec.backoffLimit).toBe(6);
  });

  it('changes its name when anything of its pod changes, and only then', () => {
    const name = (objects: ReturnType<typeof synthObjects>) => findObject(objects, 'Job', /^kafka-topics-/).metadata.name;
    const base = name(synthObjects());
    expect(name(synthObjects())).toBe(base);
    const grown = synthObjects({ override: { kafka: { topics: [{ name: 'learning.query', partitions: 6, retention: '7d' }] } } });
    expect(name(grown)).not.toBe(base);
    const moreMemory = synthObjects({ override: { kafka: { topicsJob: { resources: { requests: { memory: '768Mi' }, limits: { memory: '768Mi' } } } } } });
    expect(name(moreMemory)).not.toBe(base);
    expect(base).toMatch(/^kafka-topics-[0-9a-f]{10}$/);
  });

  it('mounts its own ConfigMap and runs the shipped script', () => {
    const objects = synthObjects();
    const job = findObject(objects, 'Job', /^kafka-topics-/);
    const configMap = findObject(objects, 'ConfigMap', job.metadata.name);
    const pod = job.spec.template.spec;
    expect(pod.volumes.find((v: { name: string }) => v.name === 'files').configMap.name).toBe(configMap.metadata.name);
    expect(pod.containers[0].command).toEqual(['/bin/bash', '/etc/learnflow/topics/reconcile-topics.sh']);
    expect(Object.keys(configMap.data ?? {}).sort()).toEqual(['reconcile-topics.sh', 'topics.conf']);
    expect(pod.restartPolicy).toBe('Never');
  });

  it('becomes an Argo CD hook only when asked', () => {
    const hook = (objects: ReturnType<typeof synthObjects>) => findObject(objects, 'Job', /^kafka-topics-/).metadata.annotations?.['argocd.argoproj.io/hook'];
    expect(hook(synthObjects())).toBeUndefined();
    expect(hook(synthObjects({ override: { platform: { argoCdHooks: true } } }))).toBe('Sync');
  });
});

describe('Kafka NetworkPolicies', () => {
  const admitted = (objects: ReturnType<typeof synthObjects>, name: string) =>
    findObject(objects, 'NetworkPolicy', name).spec.ingress[0].from.map(
      (peer: { namespaceSelector?: { matchLabels: Record<string, string> }; podSelector?: { matchLabels: Record<string, string> } }) =>
        peer.namespaceSelector?.matchLabels['kubernetes.io/metadata.name'] ?? peer.podSelector?.matchLabels,
    );

  it('denies by default, admits the apps namespace, the topics Job and the brokers to the client port', () => {
    const objects = synthObjects();
    expect(findObject(objects, 'NetworkPolicy', 'default-deny-ingress').spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
    expect(admitted(objects, 'kafka-clients')).toEqual([
      'learnflow',
      { 'learnflow.dev/kafka-client': 'true' },
      { 'app.kubernetes.io/component': 'broker', 'app.kubernetes.io/name': 'kafka' },
    ]);
    expect(admitted(objects, 'kafka-controllers')).toEqual([{ 'app.kubernetes.io/component': 'broker', 'app.kubernetes.io/name': 'kafka' }]);
  });

  it('admits the brokers and the voters, nothing else, to the dedicated voters', () => {
    const objects = synthObjects({ profile: 'production' });
    expect(findObject(objects, 'NetworkPolicy', 'kafka-controllers').spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/component': 'controller', 'app.kubernetes.io/name': 'kafka' });
    expect(admitted(objects, 'kafka-controllers')).toEqual([
      { 'app.kubernetes.io/component': 'broker', 'app.kubernetes.io/name': 'kafka' },
      { 'app.kubernetes.io/component': 'controller', 'app.kubernetes.io/name': 'kafka' },
    ]);
  });

  it('follows a renamed apps namespace and adds the extra client namespaces', () => {
    const objects = synthObjects({ override: { platform: { namespaces: { apps: 'apps' } }, kafka: { extraClientNamespaces: ['batch'] } } });
    expect(admitted(objects, 'kafka-clients').slice(0, 2)).toEqual(['apps', 'batch']);
  });
});

describe('rebalance Job', () => {
  const production = synthObjects({ profile: 'production' });
  const job = (objects: typeof production) => objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('kafka-rebalance-'))!;

  it('a scale-out changes only the broker StatefulSet replicas (new pods, no roll) and the rebalance Job, which a deploy then runs anew', () => {
    const five = synthObjects({ profile: 'production', override: { kafka: { brokers: 5 } } });
    const broker = (objects: typeof production) => findObject(objects, 'StatefulSet', 'kafka');
    expect(broker(five).spec.replicas).toBe(5);
    expect(broker(five).spec.template).toEqual(broker(production).spec.template);
    expect(findObject(five, 'StatefulSet', 'kafka-controller')).toEqual(findObject(production, 'StatefulSet', 'kafka-controller'));
    expect(job(five).metadata.name).not.toBe(job(production).metadata.name);
    expect(envOf(job(five).spec.template.spec.containers[0]).BROKERS).toBe('5');
    // A topic's retention is not the Job's concern: it keeps its name, and a deploy does not run it again.
    const retention = synthObjects({ profile: 'production', override: { kafka: { topics: [{ name: 'learning.query', retention: '14d' }] } } });
    expect(job(retention).metadata.name).toBe(job(production).metadata.name);
  });

  it('runs after the topics Job, on the brokers image, as a client the NetworkPolicies admit, with the throttle of the config', () => {
    const container = job(production).spec.template.spec.containers[0];
    expect(job(production).metadata.annotations?.['argocd.argoproj.io/sync-wave']).toBe('12');
    expect(container.image).toBe(findObject(production, 'StatefulSet', 'kafka').spec.template.spec.containers[0].image);
    const topicsJob = production.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('kafka-topics-'))!;
    expect(job(production).spec.template.metadata.labels['learnflow.dev/kafka-client']).toBe(topicsJob.spec.template.metadata.labels['learnflow.dev/kafka-client']);
    const env = envOf(container);
    expect(env.BOOTSTRAP_SERVERS).toBe(envOf(topicsJob.spec.template.spec.containers[0]).BOOTSTRAP_SERVERS);
    expect(Number(env.THROTTLE_BYTES_PER_SECOND)).toBe(52_428_800);
    const slower = synthObjects({ profile: 'production', override: { kafka: { rebalanceThrottleBytesPerSecond: 10_485_760 } } });
    expect(envOf(job(slower).spec.template.spec.containers[0]).THROTTLE_BYTES_PER_SECOND).toBe('10485760');
    expect(Number(env.WAIT_TIMEOUT_SECONDS)).toBeLessThan(job(production).spec.activeDeadlineSeconds);
  });
});
