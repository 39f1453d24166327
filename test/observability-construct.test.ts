import { describe, expect, it } from 'vitest';
import { envOf, findObject, synthObjects } from './support/synth';

const kinds = (objects: { kind: string }[]) => new Set(objects.map((o) => o.kind));

describe('observability in the synthesized manifests', () => {
  const production = synthObjects({ profile: 'production' });
  const sts = findObject(production, 'StatefulSet', 'kafka');
  const pod = sts.spec.template.spec;
  const kafka = pod.containers[0];

  it('is off on minikube and on in production', () => {
    const minikube = synthObjects({ profile: 'minikube' });
    expect(kinds(minikube).has('PodMonitor')).toBe(false);
    expect(findObject(minikube, 'StatefulSet', 'kafka').spec.template.spec.initContainers).toBeUndefined();
    expect([...kinds(production)]).toEqual(expect.arrayContaining(['PodMonitor', 'PrometheusRule']));
    const optedIn = synthObjects({ profile: 'minikube', override: { observability: { enabled: true } } });
    expect([...kinds(optedIn)]).toEqual(expect.arrayContaining(['PodMonitor', 'PrometheusRule']));
  });

  it('loads the agent the init container copies out of the stock image, with a restricted security context', () => {
    const [init] = pod.initContainers;
    expect(init.image).toMatch(/^ghcr\.io\/open-telemetry\/opentelemetry-operator\/autoinstrumentation-java:\d/);
    const agentJar = init.command.at(-1);
    // Into the server's JVM only (kafka-server-start.sh's EXTRA_ARGS, after the script's own options), not
    // through KAFKA_OPTS into every JVM the image's launcher starts.
    expect(envOf(kafka).EXTRA_ARGS?.split(' ')).toEqual(['-name', 'kafkaServer', `-javaagent:${agentJar}`]);
    expect(envOf(kafka).KAFKA_OPTS).toBeUndefined();
    const mountOf = (container: { volumeMounts: { name: string; mountPath: string }[] }) => container.volumeMounts.find((m) => agentJar.startsWith(`${m.mountPath}/`));
    expect(mountOf(init)?.name).toBe(mountOf(kafka)?.name);
    expect(init.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(init.resources.limits['ephemeral-storage']).toBeDefined();
    // Metrics only: no bytecode instrumentation of the broker.
    expect(envOf(kafka).OTEL_INSTRUMENTATION_COMMON_DEFAULT_ENABLED).toBe('false');
  });

  it('counts the agent volume in the broker ephemeral storage', () => {
    const without = findObject(synthObjects({ profile: 'production', override: { observability: { enabled: false } } }), 'StatefulSet', 'kafka');
    const mebibytes = (q: string) => Number(q.replace(/Mi$/, ''));
    const agentVolume = pod.volumes.find((v: { name: string }) => v.name === pod.initContainers[0].volumeMounts[0].name);
    expect(mebibytes(kafka.resources.requests['ephemeral-storage']) - mebibytes(without.spec.template.spec.containers[0].resources.requests['ephemeral-storage'])).toBe(
      mebibytes(agentVolume.emptyDir.sizeLimit),
    );
  });

  it('admits only the scraper to the metrics port', () => {
    const port = kafka.ports.find((p: { name: string }) => p.name === 'metrics').containerPort;
    const policy = findObject(production, 'NetworkPolicy', 'kafka-metrics');
    expect(policy.spec.ingress).toEqual([
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }],
        ports: [{ protocol: 'TCP', port }],
      },
    ]);
    const monitor = findObject(production, 'PodMonitor', 'kafka');
    expect(monitor.spec.podMetricsEndpoints[0].port).toBe('metrics');
    expect(monitor.spec.selector.matchLabels).toEqual(sts.spec.selector.matchLabels);
  });

  it('gives every Kafka node set, brokers and dedicated controllers, the agent, a PodMonitor and the scraper admitted', () => {
    // The voters' own MBeans report the quorum (active controller count): a controller set left out is blind.
    const sets = production.filter((o) => o.kind === 'StatefulSet' && envOf(o.spec.template.spec.containers[0]).KAFKA_PROCESS_ROLES !== undefined);
    expect(sets.map((o) => envOf(o.spec.template.spec.containers[0]).KAFKA_PROCESS_ROLES).sort()).toEqual(['broker', 'controller']);
    for (const set of sets) {
      const spec = set.spec.template.spec;
      const name = set.metadata.name;
      expect(envOf(spec.containers[0]).EXTRA_ARGS?.split(' '), name).toContain(`-javaagent:${spec.initContainers[0].command.at(-1)}`);
      const port = spec.containers[0].ports.find((p: { name: string }) => p.name === 'metrics').containerPort;
      const monitors = production.filter((o) => o.kind === 'PodMonitor' && o.metadata.namespace === set.metadata.namespace);
      expect(monitors.filter((m) => JSON.stringify(m.spec.selector.matchLabels) === JSON.stringify(set.spec.selector.matchLabels)), name).toHaveLength(1);
      const policies = production.filter(
        (o) =>
          o.kind === 'NetworkPolicy' &&
          o.metadata.namespace === set.metadata.namespace &&
          JSON.stringify(o.spec.podSelector.matchLabels) === JSON.stringify(set.spec.selector.matchLabels) &&
          o.spec.ingress?.some((rule: any) => rule.ports.some((p: { port: number }) => p.port === port) && rule.from.some((peer: any) => peer.namespaceSelector?.matchLabels['kubernetes.io/metadata.name'] === 'monitoring')),
      );
      expect(policies, name).toHaveLength(1);
    }
  });

  it('labels every dashboard ConfigMap for the Grafana sidecar', () => {
    const dashboards = production.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1');
    expect(dashboards.map((d) => d.metadata.name).sort()).toEqual(['learnflow-kafka-cluster', 'learnflow-kafka-topics', 'learnflow-postgres']);
    for (const dashboard of dashboards) for (const json of Object.values(dashboard.data as Record<string, string>)) expect(JSON.parse(json).panels.length).toBeGreaterThan(0);
  });

  it('runs postgres_exporter as the monitoring role, its password a Secret file, admitted by the server policy', () => {
    const deployment = findObject(production, 'Deployment', 'postgres-exporter');
    const container = deployment.spec.template.spec.containers[0];
    const env = envOf(container);
    const secretVolume = deployment.spec.template.spec.volumes.find((v: { secret?: { secretName: string } }) => v.secret);
    expect(secretVolume.secret.secretName).toBe('learnflow-postgres-monitoring');
    expect(env.DATA_SOURCE_PASS_FILE?.startsWith(container.volumeMounts.find((m: { name: string }) => m.name === secretVolume.name).mountPath)).toBe(true);
    expect(Object.keys(env).some((name) => name.includes('PASS') && env[name] !== undefined && !name.endsWith('_FILE'))).toBe(false);
    const serverPolicy = findObject(production, 'NetworkPolicy', 'postgres-clients');
    const admitted = serverPolicy.spec.ingress[0].from.map((peer: { podSelector?: { matchLabels: Record<string, string> } }) => peer.podSelector?.matchLabels).filter(Boolean);
    const podLabels = deployment.spec.template.metadata.labels;
    expect(admitted.some((labels: Record<string, string>) => Object.entries(labels).every(([k, v]) => podLabels[k] === v))).toBe(true);
    expect(findObject(production, 'PodMonitor', 'postgres-exporter').spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    // The login in use is the Secret's username (the role, or its twin after a rotation), a file like the password.
    expect(env.DATA_SOURCE_USER).toBeUndefined();
    expect(env.DATA_SOURCE_USER_FILE).toBe(env.DATA_SOURCE_PASS_FILE?.replace(/password$/, 'username'));
    expect(secretVolume.secret.items).toContainEqual({ key: 'username', path: 'username' });
  });
});
