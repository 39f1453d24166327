import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { imaginedPods } from '../verify/checks/network';
import { loadDist } from '../verify/dist';
import type { K8sObject } from '../verify/model';
import { type Endpoint, NetworkModel, type Port } from '../verify/network-reachability';
import { byKind, checkOf, copyDist, editObjects, synthesizeDist, verify } from './fixtures/verify/helpers';
import { tempDir } from './support/synth';

// Who reaches whom under the NetworkPolicies of dist/, pinned row by row, for both profiles; then each
// policy broken in a copy of dist/ and the verifier's network-reachability check seen failing.
const tcp = (port: number): Port => ({ port, protocol: 'TCP' });
const udp = (port: number): Port => ({ port, protocol: 'UDP' });

type Who = 'sandbox' | 'stranger' | 'kafkaStranger' | 'daprApp' | 'daprImpostor' | 'unknownAppId' | 'broker' | 'voter' | 'postgres' | 'topicsJob' | 'migrationsJob' | 'seedJob' | 'dns' | 'internet';

// [from, to, port, reaches]
const TABLE: [Who, Who, Port, boolean][] = [
  // The code sandbox (an unlabelled pod of the apps namespace) and any other namespace's pods: nothing.
  ['sandbox', 'broker', tcp(9092), false],
  ['sandbox', 'broker', tcp(9093), false],
  ['sandbox', 'voter', tcp(9093), false],
  ['sandbox', 'broker', tcp(9094), false],
  ['sandbox', 'postgres', tcp(5432), false],
  ['stranger', 'broker', tcp(9092), false],
  ['stranger', 'postgres', tcp(5432), false],
  // A pod that carries only one of the two injector labels, or an app-id the components are not scoped to.
  ['daprImpostor', 'broker', tcp(9092), false],
  ['daprImpostor', 'postgres', tcp(5432), false],
  ['unknownAppId', 'broker', tcp(9092), false],
  ['unknownAppId', 'postgres', tcp(5432), false],
  // A LearnFlow service with its sidecar: both client ports, nothing else.
  ['daprApp', 'broker', tcp(9092), true],
  ['daprApp', 'postgres', tcp(5432), true],
  ['daprApp', 'broker', tcp(9093), false],
  ['daprApp', 'voter', tcp(9093), false],
  ['daprApp', 'broker', tcp(9094), false],
  // The Jobs: their server, nothing else.
  ['topicsJob', 'broker', tcp(9093), false],
  ['topicsJob', 'voter', tcp(9093), false],
  ['topicsJob', 'postgres', tcp(5432), false],
  ['migrationsJob', 'postgres', tcp(5432), true],
  ['seedJob', 'postgres', tcp(5432), true],
  ['migrationsJob', 'broker', tcp(9092), false],
  ['migrationsJob', 'internet', tcp(443), false],
  ['topicsJob', 'dns', udp(53), true],
  // Brokers: each other (on the client port, or with kafka.security the inter-broker one: tables below), the KRaft voters (the brokers themselves on minikube, the
  // controllers' StatefulSet in production) on the controller port; never the port-forward port, PostgreSQL
  // or the outside. The voters: each other on the controller port, nothing else but DNS.
  ['broker', 'voter', tcp(9093), true],
  ['voter', 'voter', tcp(9093), true],
  ['voter', 'postgres', tcp(5432), false],
  ['voter', 'internet', tcp(443), false],
  ['voter', 'dns', udp(53), true],
  ['broker', 'broker', tcp(9094), false],
  ['broker', 'postgres', tcp(5432), false],
  ['broker', 'internet', tcp(443), false],
  ['broker', 'daprApp', tcp(3500), false],
  ['broker', 'dns', udp(53), true],
  ['broker', 'dns', tcp(53), true],
  // PostgreSQL connects nowhere but DNS.
  ['postgres', 'broker', tcp(9092), false],
  ['postgres', 'internet', tcp(443), false],
  ['postgres', 'postgres', tcp(5432), false],
  ['postgres', 'dns', udp(53), true],
];

// The controller port: in minikube the single node is broker and voter (combined mode) and reaches itself on it;
// production's voters are their own StatefulSet, reached on it by the brokers and each other, by nothing else.
// minikube's PLAINTEXT listeners: the brokers replicate, and the topics Job connects, on the client port.
const MINIKUBE_TABLE: [Who, Who, Port, boolean][] = [
  ['broker', 'broker', tcp(9093), true],
  ['topicsJob', 'broker', tcp(9092), true],
  ['broker', 'broker', tcp(9092), true],
];
// production's kafka.security: replication and the admin Jobs on the certificate listener (9095), which no
// service or stranger reaches; the client port (SCRAM) admits the services only.
const SECURED_TABLE: [Who, Who, Port, boolean][] = [
  ['topicsJob', 'broker', tcp(9095), true],
  ['broker', 'broker', tcp(9095), true],
  ['topicsJob', 'broker', tcp(9092), false],
  ['broker', 'broker', tcp(9092), false],
  ['daprApp', 'broker', tcp(9095), false],
  ['sandbox', 'broker', tcp(9095), false],
  ['stranger', 'broker', tcp(9095), false],
  ['kafkaStranger', 'broker', tcp(9095), false],
  ['kafkaStranger', 'broker', tcp(9092), false],
];
const CONTROLLER_TABLE: [Who | 'controller', Who | 'controller', Port, boolean][] = [
  ['broker', 'controller', tcp(9093), true],
  ['controller', 'controller', tcp(9093), true],
  ['broker', 'broker', tcp(9093), false],
  ['sandbox', 'controller', tcp(9093), false],
  ['daprApp', 'controller', tcp(9093), false],
  ['topicsJob', 'controller', tcp(9093), false],
  ['kafkaStranger', 'controller', tcp(9093), false],
  ['controller', 'internet', tcp(443), false],
];

// With backups on (the production profile's default): the base backup CronJob's pods are PostgreSQL clients
// like the other Jobs (the server's port, DNS), and nothing reaches them.
const BACKUP_TABLE: [Who | 'backupJob', Who | 'backupJob', Port, boolean][] = [
  ['backupJob', 'postgres', tcp(5432), true],
  ['backupJob', 'dns', udp(53), true],
  ['backupJob', 'broker', tcp(9092), false],
  ['backupJob', 'internet', tcp(443), false],
  ['sandbox', 'backupJob', tcp(5432), false],
  ['postgres', 'backupJob', tcp(5432), false],
];

function endpoints(model: NetworkModel, distDir: string): Record<Who, Endpoint> {
  const pods = model.pods();
  const pod = (pattern: RegExp) => {
    const found = pods.find((candidate) => pattern.test(candidate.description));
    if (!found) throw new Error(`no pod ${pattern} in dist/`);
    return found;
  };
  const imagined = imaginedPods(loadDist(distDir), []);
  if (!imagined.daprApp) throw new Error('no Dapr app-ids in dist/');
  const { namespace } = imagined.sandbox;
  return {
    sandbox: imagined.sandbox,
    stranger: imagined.stranger,
    daprApp: { ...imagined.daprApp, ports: [tcp(3500)] },
    daprImpostor: { ...imagined.sandbox, description: 'a pod with only dapr.io/app-id', labels: { 'dapr.io/app-id': 'frontend' } },
    unknownAppId: { ...imagined.sandbox, description: 'a Dapr-injected pod of app-id student-code', labels: { 'dapr.io/sidecar-injected': 'true', 'dapr.io/app-id': 'student-code' }, namespace },
    broker: pod(/^statefulset\/kafka /),
    // A pod of the kafka namespace that is none of ours (a `kubectl run` debug pod): no label, no port.
    kafkaStranger: { ...imagined.sandbox, description: 'an unlabelled pod in the kafka namespace', labels: {}, namespace: pod(/^statefulset\/kafka /).namespace },
    // Dedicated controllers in production; every broker is a voter on minikube.
    voter: pods.some((candidate) => /^statefulset\/kafka-controller /.test(candidate.description)) ? pod(/^statefulset\/kafka-controller /) : pod(/^statefulset\/kafka /),
    postgres: pod(/^statefulset\/postgres /),
    topicsJob: pod(/^job\/kafka-topics-/),
    migrationsJob: pod(/^job\/postgres-migrations-/),
    seedJob: pod(/^job\/postgres-seed-/),
    dns: imagined.dns,
    internet: imagined.internet,
  };
}

describe.each(['minikube', 'production'])('who reaches whom in the %s profile', (profile) => {
  let distDir: string;
  let model: NetworkModel;
  let who: Record<Who | 'backupJob' | 'controller', Endpoint>;

  beforeAll(() => {
    distDir = synthesizeDist(['--profile', profile]);
    model = new NetworkModel(loadDist(distDir));
    const optional = {
      backupJob: model.pods().find((pod) => /^cronjob\/postgres-basebackup /.test(pod.description)),
      controller: model.pods().find((pod) => /^statefulset\/kafka-controller /.test(pod.description)),
    };
    for (const [name, found] of Object.entries(optional)) {
      if (profile === 'production' && !found) throw new Error(`no ${name} in the production dist/`);
    }
    who = { ...endpoints(model, distDir), ...optional } as Record<Who | 'backupJob' | 'controller', Endpoint>;
  });

  it.each(profile === 'production' ? [...TABLE, ...CONTROLLER_TABLE, ...SECURED_TABLE, ...BACKUP_TABLE] : [...TABLE, ...MINIKUBE_TABLE])('%s -> %s %o: %s', (from, to, port, reaches) => {
    expect(model.allows(who[from], who[to], port)).toBe(reaches);
  });

  it('the verifier finds every rule kept', async () => {
    const check = checkOf(await verify(distDir, { only: ['network-reachability'] }), 'network-reachability');
    expect(check.results.filter((result) => result.status !== 'pass')).toEqual([]);
    expect(check.results.map((result) => result.message)).toEqual(
      expect.arrayContaining([
        `an unlabelled pod in ${who.sandbox.namespace} (the code sandbox) reaches no pod of kafka, postgres`,
        expect.stringMatching(/reaches the client ports 9092\/TCP, 5432\/TCP and no other port of the data pods$/),
        expect.stringMatching(/^the port-forward port 9094\/TCP \(external\) of statefulset\/kafka in kafka is reached by no pod/),
      ]),
    );
  });
});

const policy = (name: string) => byKind('NetworkPolicy', name);
const clientsPeer = (object: K8sObject) => object.spec.ingress[0].from[0];

// Each a policy broken as a hand edit (or a careless change) would break it; the message names what now flows.
const BREAKS: { breaks: string; apply: (dir: string) => void; says: RegExp }[] = [
  {
    breaks: 'PostgreSQL clients admitted from the whole apps namespace',
    apply: (dir) => editObjects(dir, policy('postgres-clients'), (o) => void delete clientsPeer(o).podSelector),
    says: /an unlabelled pod in learnflow \(the code sandbox\) reaches statefulset\/postgres in postgres on 5432\/TCP/,
  },
  {
    breaks: 'Kafka clients admitted by an empty pod selector (every pod of the apps namespace)',
    apply: (dir) => editObjects(dir, policy('kafka-clients'), (o) => void (clientsPeer(o).podSelector = { matchLabels: {} })),
    says: /the code sandbox\) reaches statefulset\/kafka in kafka on 9092\/TCP/,
  },
  {
    breaks: 'the Dapr peer on the wrong label value',
    apply: (dir) => editObjects(dir, policy('postgres-clients'), (o) => void (clientsPeer(o).podSelector.matchLabels['dapr.io/sidecar-injected'] = 'yes')),
    says: /cannot reach postgres\/postgres -> statefulset\/postgres in postgres 5432\/TCP/,
  },
  {
    breaks: 'the port-forward port opened to every pod',
    apply: (dir) => editObjects(dir, policy('kafka-controllers'), (o) => void o.spec.ingress.push({ ports: [{ port: 9094, protocol: 'TCP' }] })),
    says: /the port-forward port 9094\/TCP \(external\) of statefulset\/kafka in kafka is reached by .*an unlabelled pod in learnflow/,
  },
  {
    breaks: 'every egress policy of kafka removed',
    apply: (dir) => editObjects(dir, (o) => o.kind === 'NetworkPolicy' && o.metadata.namespace === 'kafka' && (o.spec.policyTypes ?? []).includes('Egress'), () => null),
    says: /statefulset\/kafka in kafka reaches an address outside the cluster on .*443\/TCP/,
  },
  {
    breaks: 'DNS egress removed in postgres',
    apply: (dir) => editObjects(dir, (o) => o.kind === 'NetworkPolicy' && o.metadata.namespace === 'postgres' && o.metadata.name === 'allow-dns-egress', () => null),
    says: /statefulset\/postgres in postgres cannot ask the cluster DNS on UDP and TCP 53/,
  },
  {
    breaks: "the Jobs' egress to the server removed",
    apply: (dir) => editObjects(dir, policy('postgres-jobs-to-server'), () => null),
    says: /job\/postgres-migrations-[0-9a-f]+ in postgres cannot reach postgres\/postgres/,
  },
  {
    breaks: "the base backup CronJob's pods without the PostgreSQL client label",
    apply: (dir) =>
      editObjects(
        dir,
        (o) => o.kind === 'CronJob' && o.metadata.name === 'postgres-basebackup',
        (o) => void delete o.spec.jobTemplate.spec.template.metadata.labels['learnflow.dev/postgres-client'],
      ),
    says: /cronjob\/postgres-basebackup in postgres cannot reach postgres\/postgres/,
  },
  {
    breaks: 'PostgreSQL egress opened to everything',
    apply: (dir) => editObjects(dir, policy('allow-dns-egress'), (o) => void (o.metadata.namespace === 'postgres' && delete o.spec.egress[0].to)),
    says: /statefulset\/postgres in postgres reaches an address outside the cluster on 53\/UDP, 53\/TCP;/,
  },
];

describe('network-reachability fails on broken policies', () => {
  let healthy: string;

  beforeAll(() => {
    // minikube with backups on, so that the backup CronJob's policies can be broken too.
    const config = path.join(tempDir('reachability-config'), 'backups.yaml');
    fs.writeFileSync(config, 'postgres:\n  backup:\n    enabled: true\n');
    healthy = synthesizeDist(['--config', config]);
  });

  it.each(BREAKS)('$breaks', async ({ apply, says }) => {
    const dir = copyDist(healthy);
    apply(dir);
    const report = await verify(dir, { only: ['network-reachability'] });
    const check = checkOf(report, 'network-reachability');
    expect(check.status).toBe('fail');
    expect(report.exitCode).toBe(1);
    const failures = check.results.filter((result) => result.status === 'fail').map((result) => result.message);
    expect(failures.join('\n')).toMatch(says);
  });
});

// With observability on (the production profile's default): postgres_exporter beside the server, and the
// Prometheus scraper of the monitoring namespace, as the metrics policies describe it.
describe('who reaches whom with observability on (production profile)', () => {
  let distDir: string;
  let model: NetworkModel;
  let exporter: Endpoint;
  let scraper: Endpoint;
  let who: Record<Who, Endpoint>;

  beforeAll(() => {
    distDir = synthesizeDist(['--profile', 'production']);
    model = new NetworkModel(loadDist(distDir));
    who = endpoints(model, distDir);
    const found = model.pods().find((pod) => pod.description.startsWith('deployment/postgres-exporter '));
    if (!found) throw new Error('no postgres_exporter in the production dist/');
    exporter = found;
    scraper = { description: 'the Prometheus scraper', namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'prometheus' }, ports: [] };
  });

  // [from, to, port, reaches]
  const ROWS: [string, (w: Record<Who, Endpoint>, exporter: Endpoint, scraper: Endpoint) => [Endpoint, Endpoint], Port, boolean][] = [
    ['the exporter -> PostgreSQL', (w, e) => [e, w.postgres], tcp(5432), true],
    ['the exporter -> a broker', (w, e) => [e, w.broker], tcp(9092), false],
    ['the exporter -> the outside', (w, e) => [e, w.internet], tcp(443), false],
    ['the exporter -> DNS', (w, e) => [e, w.dns], udp(53), true],
    ['the scraper -> the exporter metrics port', (_, e, s) => [s, e], tcp(9187), true],
    ['the scraper -> the broker metrics port', (w, _, s) => [s, w.broker], tcp(9464), true],
    ['the scraper -> PostgreSQL', (w, _, s) => [s, w.postgres], tcp(5432), false],
    ['the scraper -> a broker client port', (w, _, s) => [s, w.broker], tcp(9092), false],
    ['the code sandbox -> the exporter metrics port', (w, e) => [w.sandbox, e], tcp(9187), false],
    ['a Dapr app -> the exporter metrics port', (w, e) => [w.daprApp, e], tcp(9187), false],
    ['a pod of another namespace -> the broker metrics port', (w) => [w.stranger, w.broker], tcp(9464), false],
  ];

  it.each(ROWS)('%s %o', (_, pick, port, reaches) => {
    const [from, to] = pick(who, exporter, scraper);
    expect(model.allows(from, to, port)).toBe(reaches);
  });

  it('the verifier finds the exporter and the scraper rules kept', async () => {
    const check = checkOf(await verify(distDir, { only: ['network-reachability'] }), 'network-reachability');
    expect(check.results.filter((result) => result.status !== 'pass')).toEqual([]);
    expect(check.results.map((result) => result.message)).toEqual(
      expect.arrayContaining([
        'deployment/postgres-exporter in postgres reaches postgres/postgres',
        'deployment/postgres-exporter in postgres reaches only the cluster DNS and pods of postgres',
        expect.stringMatching(/^the metrics scraper \(app\.kubernetes\.io\/name=prometheus in monitoring\) reaches the metrics ports \(.*9464\/TCP.*9187\/TCP.*\) and no other port/),
      ]),
    );
  });

  const OBSERVABILITY_BREAKS: { breaks: string; apply: (dir: string) => void; says: RegExp }[] = [
    {
      breaks: "the exporter's egress to the server removed (with the Jobs')",
      apply: (dir) => editObjects(dir, policy('postgres-jobs-to-server'), () => null),
      says: /deployment\/postgres-exporter in postgres cannot reach postgres\/postgres/,
    },
    {
      breaks: "the scraper's policy for the exporter removed",
      apply: (dir) => editObjects(dir, policy('postgres-exporter-metrics'), () => null),
      says: /the metrics scraper \(.*\) cannot reach deployment\/postgres-exporter in postgres 9187\/TCP/,
    },
    {
      breaks: "the brokers' metrics policy opened to every port",
      apply: (dir) => editObjects(dir, policy('kafka-metrics'), (o) => void delete o.spec.ingress[0].ports),
      says: /it reaches more than the metrics ports: statefulset\/kafka in kafka 9092\/TCP/,
    },
  ];

  it.each(OBSERVABILITY_BREAKS)('network-reachability fails with $breaks', async ({ apply, says }) => {
    const dir = copyDist(distDir);
    apply(dir);
    const report = await verify(dir, { only: ['network-reachability'] });
    const check = checkOf(report, 'network-reachability');
    expect(check.status).toBe('fail');
    expect(check.results.filter((result) => result.status === 'fail').map((result) => result.message).join('\n')).toMatch(says);
  });
});
