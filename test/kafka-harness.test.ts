import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { KafkaTestCluster } from './harness/kafka/cluster';
import { loadKafkaManifests } from './harness/kafka/manifests';
import { PodReadiness } from './harness/kafka/operations';
import { ContainerFilesystem, expandReferences, resolveContainerEnv, serviceLinkEnv } from './harness/kafka/pod';
import { sleep } from './harness/processes';
import { ROOT, tempDir } from './support/synth';

// The harness's own seams, which every Kafka suite relies on: if they drifted from Kubernetes, the
// real-broker suites would prove the wrong configuration.
describe('Kafka harness: the pod emulation', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("expands $(VAR) as the kubelet does: earlier variables only, $$ escapes, unknown references kept", () => {
    const defined = new Map([
      ['POD_NAME', 'kafka-2'],
      ['EMPTY', ''],
    ]);
    expect(expandReferences('$(POD_NAME).kafka-headless', defined)).toBe('kafka-2.kafka-headless');
    expect(expandReferences('a$(EMPTY)b', defined)).toBe('ab');
    expect(expandReferences('$(LATER)', defined)).toBe('$(LATER)');
    expect(expandReferences('$$(POD_NAME)', defined)).toBe('$(POD_NAME)');
    expect(expandReferences('$(POD_NAME', defined)).toBe('$(POD_NAME');
    expect(expandReferences('cost: $5 and $', defined)).toBe('cost: $5 and $');
  });

  it("resolves the dist StatefulSet's env for an ordinal: downward API fields, then references to them", () => {
    const { statefulSet } = loadKafkaManifests(path.join(ROOT, 'dist'));
    const container = {
      env: [
        ...statefulSet.spec.template.spec.containers[0].env,
        { name: 'HARNESS_PROBE', value: '$(POD_NAME)/$(KAFKA_NODE_ID)/$(UNDEFINED_LATER)' },
        { name: 'UNDEFINED_LATER', value: 'x' },
      ],
    };
    const env = resolveContainerEnv(container, {
      name: 'kafka-2',
      namespace: 'kafka',
      labels: { 'apps.kubernetes.io/pod-index': '2' },
      annotations: {},
      podIP: '127.0.0.3',
    });
    expect(env.get('KAFKA_NODE_ID')).toBe('2');
    expect(env.get('POD_NAMESPACE')).toBe('kafka');
    expect(env.get('HARNESS_PROBE')).toBe('kafka-2/2/$(UNDEFINED_LATER)');
  });

  it('injects service links unless enableServiceLinks is false; the container env wins and may refer to them', () => {
    const services = [
      { metadata: { name: 'kafka' }, spec: { ports: [{ name: 'internal', port: 9092 }] } },
      { metadata: { name: 'kafka-headless' }, spec: { clusterIP: 'None', ports: [{ name: 'internal', port: 9092 }] } },
    ];
    const links = serviceLinkEnv(services, true);
    expect(links.get('KAFKA_PORT')).toBe(`tcp://${links.get('KAFKA_SERVICE_HOST')}:9092`);
    expect(links.get('KAFKA_SERVICE_PORT_INTERNAL')).toBe('9092');
    expect(links.get('KAFKA_PORT_9092_TCP_PROTO')).toBe('tcp');
    expect([...links.keys()].some((name) => name.startsWith('KAFKA_HEADLESS'))).toBe(false);
    expect([...serviceLinkEnv(services, false).keys()].every((name) => name.startsWith('KUBERNETES_'))).toBe(true);

    const env = resolveContainerEnv(
      { env: [{ name: 'KAFKA_PORT', value: 'mine' }, { name: 'SEEN', value: '$(KAFKA_SERVICE_PORT)' }] },
      { name: 'kafka-0', namespace: 'kafka', labels: {}, annotations: {}, podIP: '127.0.0.1' },
      links,
    );
    expect(env.get('KAFKA_PORT')).toBe('mine');
    expect(env.get('SEEN')).toBe('9092');
    expect(env.get('KAFKA_SERVICE_HOST')).toBe(links.get('KAFKA_SERVICE_HOST'));
  });

  it('refuses a downward API label the pod does not have, as the kubelet does', () => {
    const container = { env: [{ name: 'KAFKA_NODE_ID', valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } } }] };
    expect(() => resolveContainerEnv(container, { name: 'kafka-0', namespace: 'kafka', labels: {}, annotations: {}, podIP: '127.0.0.1' })).toThrow(
      /no such label/,
    );
  });

  it('maps volume mounts to pod directories and keeps a read-only root filesystem read-only', () => {
    const podDir = tempDir('kafka-pod');
    dirs.push(podDir);
    const podSpec = { volumes: [{ name: 'config', emptyDir: {} }, { name: 'script', configMap: { name: 'topics' } }] };
    const container = {
      securityContext: { readOnlyRootFilesystem: true },
      volumeMounts: [
        { name: 'data', mountPath: '/var/lib/kafka' },
        { name: 'config', mountPath: '/opt/kafka/config' },
        { name: 'script', mountPath: '/etc/learnflow/topics' },
      ],
    };
    const configMaps = [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'topics' }, data: { 'topics.conf': 'a 1 1\n' } }];
    const filesystem = new ContainerFilesystem(podDir, podSpec, container, configMaps, [{ metadata: { name: 'data' } }]);

    expect(filesystem.translate('/var/lib/kafka/data')).toBe(path.join(podDir, 'volumes/data/data'));
    expect(filesystem.translate('/var/lib/kafka/a,/var/lib/kafka/b')).toBe(
      `${path.join(podDir, 'volumes/data/a')},${path.join(podDir, 'volumes/data/b')}`,
    );
    expect(filesystem.translate('/var/lib/kafkaesque')).toBe('/var/lib/kafkaesque');
    expect(filesystem.translate('-Xmx512m -Xms512m')).toBe('-Xmx512m -Xms512m');
    expect(fs.readFileSync(filesystem.translate('/etc/learnflow/topics/topics.conf'), 'utf8')).toBe('a 1 1\n');
    expect(filesystem.writableHostPath('/opt/kafka/config')).toBe(path.join(podDir, 'volumes/config'));
    expect(filesystem.writableHostPath('/opt/kafka/logs')).toBeUndefined();

    // A new pod on the same directory: the PVC keeps its files, an emptyDir starts empty.
    fs.writeFileSync(path.join(podDir, 'volumes/data/meta.properties'), 'kept');
    fs.writeFileSync(path.join(podDir, 'volumes/config/server.properties'), 'gone');
    new ContainerFilesystem(podDir, podSpec, container, configMaps, [{ metadata: { name: 'data' } }]);
    expect(fs.existsSync(path.join(podDir, 'volumes/data/meta.properties'))).toBe(true);
    expect(fs.existsSync(path.join(podDir, 'volumes/config/server.properties'))).toBe(false);
  });

  it("reads the Kafka version from the StatefulSet's pinned apache/kafka image", () => {
    const distDir = tempDir('kafka-dist');
    dirs.push(distDir);
    const original = fs.readFileSync(path.join(ROOT, 'dist', '10-kafka.yaml'), 'utf8');
    fs.copyFileSync(path.join(ROOT, 'dist', '11-kafka-topics.yaml'), path.join(distDir, '11-kafka-topics.yaml'));
    fs.writeFileSync(path.join(distDir, '10-kafka.yaml'), original.replace(/image: apache\/kafka:\S+/, 'image: apache/kafka:latest'));
    expect(() => loadKafkaManifests(distDir)).toThrow(/not a pinned official apache\/kafka/);
    fs.writeFileSync(path.join(distDir, '10-kafka.yaml'), original.replace(/image: apache\/kafka:\S+/, 'image: apache/kafka:4.2.0'));
    expect(loadKafkaManifests(distDir).kafkaVersion).toBe('4.2.0');
  });

  it('runs no readiness probe of a pod before its startup probe passed, as the kubelet does', async () => {
    // Our own seam, the cluster, stands in: a broker whose port opens when the test says so.
    let listening = false;
    const readinessRuns: string[] = [];
    const sts = { spec: { template: { spec: { containers: [{ readinessProbe: { periodSeconds: 1 }, startupProbe: { periodSeconds: 1 } }] } } } };
    const cluster = {
      manifests: { statefulSet: sts },
      brokerPods: ['kafka-0'],
      controllerPods: [],
      statefulSetOf: () => sts,
      isRunning: () => true,
      probeStartup: async () => listening,
      probeReadiness: async (name: string) => {
        readinessRuns.push(name);
        return { ready: true, output: 'kafka: ready' };
      },
    } as unknown as KafkaTestCluster;
    const readiness = new PodReadiness(cluster);
    try {
      await sleep(2_500);
      expect(readinessRuns).toEqual([]);
      expect(readiness.isReady('kafka-0')).toBe(false);
      expect(readiness.lastOutput('kafka-0')).toMatch(/startup probe not passed/);
      listening = true;
      await readiness.waitUntil(() => readiness.isReady('kafka-0'), 5_000, 'kafka-0 Ready once started');
      expect(readinessRuns.length).toBeGreaterThan(0);
    } finally {
      await readiness.stop();
    }
  });
});
