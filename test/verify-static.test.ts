import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { STATIC_CHECKS } from '../verify/checks';
import type { K8sObject } from '../verify/model';
import type { VerifyReport } from '../verify/runner';
import {
  addObjects,
  byKind,
  checkOf,
  containerNamed,
  copyDist,
  editObjects,
  failing,
  setEnv,
  synthesizeDist,
  verify,
} from './fixtures/verify/helpers';

const kafkaSts = byKind('StatefulSet', 'kafka');
const postgresSts = byKind('StatefulSet', 'postgres');
const migrationsJob = byKind('Job', /^postgres-migrations-/);
const kafkaBudget = byKind('PodDisruptionBudget', 'kafka');
const editPostgresArg = (from: RegExp, to: string) => (dir: string) =>
  editObjects(dir, postgresSts, (o) => void (containerNamed(o).args = containerNamed(o).args.map((arg: string) => arg.replace(from, to))));
const topicsJob = byKind('Job', /^kafka-topics-/);
/** Turns the brokers' required anti-affinity into preferred. */
const onlyPreferredAntiAffinity = (dir: string) =>
  editObjects(dir, kafkaSts, (o) => {
    const anti = o.spec.template.spec.affinity.podAntiAffinity;
    anti.preferredDuringSchedulingIgnoredDuringExecution = anti.requiredDuringSchedulingIgnoredDuringExecution.map((term: any) => ({ weight: 100, podAffinityTerm: term }));
    delete anti.requiredDuringSchedulingIgnoredDuringExecution;
  });
/** Removes the `# profile:` line of the endpoints document. */
const dropProfileLine = (dir: string) => {
  const file = path.join(dir, 'infra-endpoints.txt');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^# profile: .*\n/m, ''));
};
const topicsConfigMap = (object: K8sObject) => object.kind === 'ConfigMap' && typeof object.data?.['topics.conf'] === 'string';
const sqlConfigMap = (pattern: RegExp) => (object: K8sObject) =>
  object.kind === 'ConfigMap' && Object.entries(object.data ?? {}).some(([key, sql]) => key.endsWith('.sql') && pattern.test(String(sql)));
const daprComponent = (type: string) => (object: K8sObject) => object.kind === 'Component' && object.spec?.type === type;

const editSql = (pattern: RegExp, replace: (sql: string) => string) => (dir: string) =>
  editObjects(dir, sqlConfigMap(pattern), (configMap) => {
    for (const key of Object.keys(configMap.data)) if (key.endsWith('.sql')) configMap.data[key] = replace(configMap.data[key]);
  });
const editTopics = (replace: (conf: string) => string) => (dir: string) =>
  editObjects(dir, topicsConfigMap, (configMap) => {
    configMap.data['topics.conf'] = replace(configMap.data['topics.conf']);
  });

const editAcls = (replace: (acls: string) => string) => (dir: string) =>
  editObjects(dir, (object) => object.kind === 'ConfigMap' && typeof object.data?.['acls.conf'] === 'string', (configMap) => {
    configMap.data['acls.conf'] = replace(configMap.data['acls.conf']);
  });

interface BreakCase {
  readonly check: string;
  readonly breaks: string;
  readonly apply: (dir: string) => void;
  /** Text the failure message must contain (it names what is wrong). */
  readonly says?: string;
  /** The profile of the dist/ the case breaks. @default 'minikube' */
  readonly profile?: 'production';
}

// One deliberately broken copy of dist/ per case; each check has at least one case.
const CASES: BreakCase[] = [
  { check: 'kubernetes-schema', breaks: 'an unknown container field', says: 'imagePullPolicyy: unknown field', apply: (dir) => editObjects(dir, kafkaSts, (o) => void (containerNamed(o).imagePullPolicyy = 'Always')) },
  { check: 'kubernetes-schema', breaks: 'replicas as a string', says: 'spec.replicas', apply: (dir) => editObjects(dir, kafkaSts, (o) => void (o.spec.replicas = 'one')) },
  { check: 'kubernetes-schema', breaks: 'an unknown kind', says: 'no schema', apply: (dir) => addObjects(dir, '50-extra.yaml', [{ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'kafka' } }]) },
  { check: 'kubernetes-schema', breaks: 'a document without metadata.name', says: 'not a Kubernetes object', apply: (dir) => fs.writeFileSync(path.join(dir, '50-bad.yaml'), 'apiVersion: v1\nkind: ConfigMap\n') },
  { check: 'namespace-pod-security', breaks: 'a namespace enforcing baseline', says: 'baseline', apply: (dir) => editObjects(dir, byKind('Namespace', 'kafka'), (o) => void (o.metadata.labels!['pod-security.kubernetes.io/enforce'] = 'baseline')) },
  { check: 'namespace-pod-security', breaks: 'an object in an undeclared namespace', says: 'not declared', apply: (dir) => editObjects(dir, byKind('PodDisruptionBudget'), (o) => void (o.metadata.namespace = 'elsewhere')) },
  { check: 'apply-order', breaks: 'namespaces applied last', says: 'comes before its Namespace', apply: (dir) => fs.renameSync(path.join(dir, '00-namespaces.yaml'), path.join(dir, '99-namespaces.yaml')) },
  { check: 'pod-security-restricted', breaks: 'privilege escalation allowed', says: 'allowPrivilegeEscalation', apply: (dir) => editObjects(dir, kafkaSts, (o) => void (containerNamed(o).securityContext.allowPrivilegeEscalation = true)) },
  { check: 'pod-security-restricted', breaks: 'running as root', says: 'runAsUser is 0', apply: (dir) => editObjects(dir, topicsJob, (o) => void (o.spec.template.spec.securityContext.runAsUser = 0)) },
  { check: 'pod-security-restricted', breaks: 'capabilities not dropped', says: 'drop', apply: (dir) => editObjects(dir, kafkaSts, (o) => void delete containerNamed(o).securityContext.capabilities) },
  { check: 'pod-security-restricted', breaks: 'a hostPath volume', says: 'hostPath', apply: (dir) => editObjects(dir, kafkaSts, (o) => void o.spec.template.spec.volumes.push({ name: 'host', hostPath: { path: '/' } })) },
  { check: 'read-only-root-filesystem', breaks: 'a writable root filesystem', says: 'readOnlyRootFilesystem', apply: (dir) => editObjects(dir, topicsJob, (o) => void (containerNamed(o).securityContext.readOnlyRootFilesystem = false)) },
  { check: 'resources-requests-limits', breaks: 'no memory limit', says: 'no memory limit', apply: (dir) => editObjects(dir, kafkaSts, (o) => void delete containerNamed(o).resources.limits.memory) },
  { check: 'resources-requests-limits', breaks: 'a request above its limit', says: 'above its limit', apply: (dir) => editObjects(dir, topicsJob, (o) => void (containerNamed(o).resources.requests.cpu = '4')) },
  { check: 'resources-requests-limits', breaks: 'no ephemeral-storage request', says: 'no ephemeral-storage request', apply: (dir) => editObjects(dir, kafkaSts, (o) => void delete containerNamed(o).resources.requests['ephemeral-storage']) },
  { check: 'resources-requests-limits', breaks: 'an ephemeral-storage limit below the emptyDirs', says: "do not exceed the emptyDirs' sizeLimits", apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => {
        containerNamed(o).resources.requests['ephemeral-storage'] = '1Gi';
        containerNamed(o).resources.limits['ephemeral-storage'] = '1Gi';
      }) },
  { check: 'resources-requests-limits', breaks: 'an emptyDir without a sizeLimit', says: 'has no sizeLimit', apply: (dir) => editObjects(dir, topicsJob, (o) => void delete o.spec.template.spec.volumes.find((v: any) => v.name === 'tmp').emptyDir.sizeLimit) },
  { check: 'image-pinned', breaks: 'an image tagged latest', says: 'apache/kafka:latest', apply: (dir) => editObjects(dir, kafkaSts, (o) => void (containerNamed(o).image = 'apache/kafka:latest')) },
  { check: 'image-pinned', breaks: 'an image without tag behind a registry port', says: 'not pinned', apply: (dir) => editObjects(dir, topicsJob, (o) => void (containerNamed(o).image = 'registry:5000/apache/kafka')) },
  { check: 'probes-long-running', breaks: 'no readiness probe', says: 'no readinessProbe', apply: (dir) => editObjects(dir, kafkaSts, (o) => void delete containerNamed(o).readinessProbe) },
  { check: 'probes-long-running', breaks: 'a probe on an undeclared port', says: "port 'client'", apply: (dir) => editObjects(dir, kafkaSts, (o) => void (containerNamed(o).livenessProbe.tcpSocket.port = 'client')) },
  { check: 'probes-long-running', breaks: 'a liveness probe that is the readiness probe', says: 'same as readinessProbe', apply: (dir) =>
      editObjects(dir, byKind('StatefulSet', 'postgres'), (o) => void (containerNamed(o).livenessProbe = { ...containerNamed(o).readinessProbe, periodSeconds: 30 })) },
  { check: 'selector-matches-template', breaks: 'a Service selecting nothing', says: 'selects no pod template', apply: (dir) => editObjects(dir, byKind('Service', 'kafka-bootstrap'), (o) => void (o.spec.selector['app.kubernetes.io/name'] = 'kafak')) },
  { check: 'selector-matches-template', breaks: 'a StatefulSet selector that misses its template', says: 'does not match', apply: (dir) => editObjects(dir, kafkaSts, (o) => void (o.spec.template.metadata.labels['app.kubernetes.io/component'] = 'controller')) },
  { check: 'service-ports-resolve', breaks: 'a named targetPort no container declares', says: 'targets client', apply: (dir) => editObjects(dir, byKind('Service', 'kafka-bootstrap'), (o) => void (o.spec.ports[0].targetPort = 'client')) },
  { check: 'service-ports-resolve', breaks: 'a numeric targetPort no container declares', says: 'targets 9999', apply: (dir) => editObjects(dir, byKind('Service', 'kafka-headless'), (o) => void (o.spec.ports[0].targetPort = 9999)) },
  { check: 'configmap-references', breaks: 'a volume naming a missing ConfigMap', says: 'not in dist/', apply: (dir) => editObjects(dir, topicsJob, (o) => void (o.spec.template.spec.volumes.find((v: any) => v.configMap).configMap.name = 'kafka-topics-missing')) },
  { check: 'configmap-references', breaks: 'a configMapKeyRef to a missing key', says: 'has no key', apply: (dir) =>
      editObjects(dir, topicsJob, (o) => {
        const configMap = o.spec.template.spec.volumes.find((v: any) => v.configMap).configMap.name;
        containerNamed(o).env.push({ name: 'EXTRA', valueFrom: { configMapKeyRef: { name: configMap, key: 'no-such-key' } } });
      }) },
  { check: 'secret-references', breaks: 'a secretKeyRef to an undocumented Secret', says: 'undocumented-credentials', apply: (dir) =>
      editObjects(dir, topicsJob, (o) => void containerNamed(o).env.push({ name: 'EXTRA', valueFrom: { secretKeyRef: { name: 'undocumented-credentials', key: 'password' } } })) },
  { check: 'secret-references', breaks: 'a mounted Secret key the contract does not list', says: 'the contract lists keys', apply: (dir) =>
      editObjects(dir, byKind('Job', /^postgres-migrations-/), (o) => void (o.spec.template.spec.volumes.find((v: any) => v.projected).projected.sources[0].secret.items[0].key = 'no-such-key')) },
  { check: 'secret-references', breaks: 'an env key the contract does not list', says: 'the contract lists keys', apply: (dir) =>
      editObjects(dir, byKind('StatefulSet', 'postgres'), (o) => void containerNamed(o).env.push({ name: 'EXTRA', valueFrom: { secretKeyRef: { name: 'learnflow-postgres-app', key: 'no-such-key' } } })) },
  { check: 'secret-references', breaks: 'a Secret used outside the namespaces the contract names', says: 'in namespace(s)', apply: (dir) => {
      const contracted = /^([a-z0-9][a-z0-9.-]*)\s+\(namespaces?:\s*([^)]*)\)/m.exec(fs.readFileSync(path.join(dir, 'infra-endpoints.txt'), 'utf8'));
      if (!contracted) throw new Error('the endpoints document has no secret contract entry');
      editObjects(dir, topicsJob, (o) => void containerNamed(o).env.push({ name: 'EXTRA', valueFrom: { secretKeyRef: { name: contracted[1], key: 'password' } } }));
    } },
  { check: 'volume-references', breaks: 'a mount of an undeclared volume', says: "unknown volume 'scratch'", apply: (dir) => editObjects(dir, kafkaSts, (o) => void (containerNamed(o).volumeMounts.find((m: any) => m.name === 'tmp').name = 'scratch')) },
  { check: 'volume-references', breaks: 'a claim of a PVC not in dist/', says: 'claims PVC', apply: (dir) => editObjects(dir, topicsJob, (o) => void o.spec.template.spec.volumes.push({ name: 'claim', persistentVolumeClaim: { claimName: 'ghost' } })) },
  { check: 'no-secret-values', breaks: 'a literal password in env', says: 'KAFKA_SASL_PASSWORD has a literal value', apply: (dir) => editObjects(dir, kafkaSts, (o) => setEnv(containerNamed(o), 'KAFKA_SASL_PASSWORD', 'hunter2-do-not-print')) },
  { check: 'no-secret-values', breaks: 'a Secret with data', says: 'carries values for password', apply: (dir) =>
      addObjects(dir, '50-secret.yaml', [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'leak', namespace: 'kafka' }, stringData: { password: 'hunter2-do-not-print' } }]) },
  { check: 'no-secret-values', breaks: 'a password inside a URL', says: 'embeds a password', apply: (dir) => editObjects(dir, topicsJob, (o) => setEnv(containerNamed(o), 'DATABASE_URL', 'postgres://app:hunter2-do-not-print@db:5432/x')) },
  { check: 'no-secret-values', breaks: 'an inline Dapr credential', says: 'saslPassword has an inline value', apply: (dir) =>
      editObjects(dir, daprComponent('pubsub.kafka'), (o) => void o.spec.metadata.push({ name: 'saslPassword', value: 'hunter2-do-not-print' })) },
  { check: 'job-content-hash', breaks: 'a Job without hash', says: 'no content-hash suffix', apply: (dir) => editObjects(dir, topicsJob, (o) => void (o.metadata.name = 'kafka-topics')) },
  { check: 'job-content-hash', breaks: "the topics Job's ConfigMap edited without renaming", says: 'edited without renaming', apply: editTopics((conf) => conf.replace(/^(struggle\.detected .*retention\.ms=)\d+/m, '$11209600000')) },
  { check: 'job-content-hash', breaks: 'a migration edited without renaming', says: 'postgres-migrations-', apply: editSql(/create table/i, (sql) => sql.replace(/create table/i, '-- reviewed\nCREATE TABLE')) },
  { check: 'job-content-hash', breaks: "a Job's pod template edited without renaming", says: 'hash to', apply: (dir) => editObjects(dir, migrationsJob, (o) => void (containerNamed(o).resources.limits.memory = '256Mi')) },
  { check: 'job-bounded', breaks: 'a Job without deadline', says: 'spec.activeDeadlineSeconds is unset', apply: (dir) => editObjects(dir, topicsJob, (o) => void delete o.spec.activeDeadlineSeconds) },
  { check: 'job-bounded', breaks: 'an unbounded backoffLimit', says: 'spec.backoffLimit is 1000', apply: (dir) => editObjects(dir, migrationsJob, (o) => void (o.spec.backoffLimit = 1000)) },
  { check: 'job-bounded', breaks: 'backoffLimit removed', says: 'spec.backoffLimit is unset: the API\'s default 6 applies, a bound nobody chose (rule: state it, 0..20)', apply: (dir) => editObjects(dir, migrationsJob, (o) => void delete o.spec.backoffLimit) },
  { check: 'job-bounded', breaks: 'a wait longer than the deadline', says: 'WAIT_TIMEOUT_SECONDS=3600 is not below spec.activeDeadlineSeconds 1800', apply: (dir) => editObjects(dir, migrationsJob, (o) => setEnv(containerNamed(o), 'WAIT_TIMEOUT_SECONDS', '3600')) },
  { check: 'job-bounded', breaks: "a script's default wait longer than the deadline", says: 'migrate.sh defaults WAIT_TIMEOUT_SECONDS to 7200', apply: (dir) => {
      editObjects(dir, byKind('ConfigMap', /^postgres-migrations-/), (o) => void (o.data['migrate.sh'] = o.data['migrate.sh'].replace('WAIT_TIMEOUT_SECONDS:-300}', 'WAIT_TIMEOUT_SECONDS:-7200}')));
      editObjects(dir, migrationsJob, (o) => setEnv(containerNamed(o), 'WAIT_TIMEOUT_SECONDS', undefined));
    } },
  // Production's voters are the dedicated controllers: their budget guards the quorum.
  { check: 'pdb-availability', breaks: 'a budget that lets 2 of 3 voters go', profile: 'production', says: 'the KRaft quorum of 3 voter(s) needs 2: at most 1', apply: (dir) => editObjects(dir, byKind('PodDisruptionBudget', 'kafka-controller'), (o) => void (o.spec.maxUnavailable = 2)) },
  { check: 'pdb-availability', breaks: 'a percentage that permits every broker down', profile: 'production', says: 'spec.maxUnavailable "100%" allows 3 of 3 pod(s)', apply: (dir) => editObjects(dir, kafkaBudget, (o) => void (o.spec.maxUnavailable = '100%')) },
  { check: 'pdb-availability', breaks: 'a topic that cannot lose a broker', profile: 'production', says: 'topic learning.query (replication factor 3, min.insync.replicas 3)', apply: editTopics((conf) => conf.replace(/^(learning\.query .*)min\.insync\.replicas=2/m, '$1min.insync.replicas=3')) },
  { check: 'pdb-availability', breaks: 'minAvailable equal to replicas', says: 'spec.minAvailable 1 allows 0 of 1 pod(s) of StatefulSet postgres/postgres to be evicted', apply: (dir) =>
      editObjects(dir, byKind('PodDisruptionBudget', 'postgres'), (o) => {
        delete o.spec.maxUnavailable;
        o.spec.minAvailable = 1;
      }) },
  { check: 'pdb-availability', breaks: 'a budget selecting no pods', profile: 'production', says: '"app.kubernetes.io/component":"brokers"', apply: (dir) => editObjects(dir, kafkaBudget, (o) => void (o.spec.selector.matchLabels['app.kubernetes.io/component'] = 'brokers')) },
  { check: 'pdb-availability', breaks: 'the budget of 3 brokers removed', profile: 'production', says: '3 replicas and no PodDisruptionBudget', apply: (dir) => editObjects(dir, kafkaBudget, () => null) },
  { check: 'pdb-availability', breaks: 'a second budget over the same brokers', profile: 'production', says: 'its pods are selected by 2 budgets, PodDisruptionBudget kafka/kafka (10-kafka.yaml, spec.selector', apply: (dir) => {
      let copy: K8sObject | undefined;
      editObjects(dir, kafkaBudget, (o) => void (copy = JSON.parse(JSON.stringify(o))));
      addObjects(dir, '50-extra-budget.yaml', [{ ...copy!, metadata: { ...copy!.metadata, name: 'kafka-extra' } }]);
    } },
  { check: 'pdb-availability', breaks: 'a budget with both fields', says: 'spec.maxUnavailable 1, spec.minAvailable 1: a budget needs exactly one of the two', apply: (dir) => editObjects(dir, byKind('PodDisruptionBudget', 'postgres'), (o) => void (o.spec.minAvailable = 1)) },
  { check: 'pod-anti-affinity', breaks: 'anti-affinity only preferred in production', profile: 'production', says: '(only preferred)', apply: onlyPreferredAntiAffinity },
  { check: 'pod-anti-affinity', breaks: 'anti-affinity by zone, not node', profile: 'production', says: 'no term on kubernetes.io/hostname', apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => void (o.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey = 'topology.kubernetes.io/zone')) },
  { check: 'pod-anti-affinity', breaks: 'a term whose namespaceSelector misses the pods\' namespace', profile: 'production', says: 'no term on kubernetes.io/hostname selecting its pods in namespace kafka', apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => void (o.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaceSelector = { matchLabels: { team: 'data' } })) },
  { check: 'pod-anti-affinity', breaks: 'preferred anti-affinity, production stated only by the Namespace label', profile: 'production', says: 'profile production, but', apply: (dir) => {
      dropProfileLine(dir);
      onlyPreferredAntiAffinity(dir);
    } },
  { check: 'kafka-min-insync-replicas', breaks: 'min.insync.replicas 1 where the Namespaces say production and the document says minikube', says: 'min.insync.replicas 1 in production', apply: (dir) =>
      editObjects(dir, byKind('Namespace'), (o) => void (o.metadata.labels!['learnflow.io/profile'] = 'production')) },
  { check: 'kafka-min-insync-replicas', breaks: 'a topic min.insync.replicas equal to RF', profile: 'production', says: 'topic learning.query (11-kafka-topics.yaml data.topics.conf line', apply: editTopics((conf) => conf.replace(/^(learning\.query .*)min\.insync\.replicas=2/m, '$1min.insync.replicas=3')) },
  { check: 'kafka-min-insync-replicas', breaks: 'a topic min.insync.replicas of 1 in production', profile: 'production', says: 'min.insync.replicas 1 in production', apply: editTopics((conf) => conf.replace(/^(exercise\.graded .*)min\.insync\.replicas=2/m, '$1min.insync.replicas=1')) },
  { check: 'kafka-min-insync-replicas', breaks: 'the broker default min.insync.replicas equal to RF', profile: 'production', says: 'KAFKA_MIN_INSYNC_REPLICAS): min.insync.replicas 3 with replication factor 3', apply: (dir) => editObjects(dir, kafkaSts, (o) => setEnv(containerNamed(o), 'KAFKA_MIN_INSYNC_REPLICAS', '3')) },
  { check: 'kafka-listeners-authenticated', breaks: 'a PLAINTEXT client listener in production', profile: 'production', says: 'StatefulSet kafka/kafka: INTERNAL (PLAINTEXT): any pod that reaches the port is let in', apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => setEnv(containerNamed(o), 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP', 'INTERNAL:PLAINTEXT,CONTROLLER:SSL,EXTERNAL:SASL_SSL,INTERBROKER:SSL')) },
  { check: 'kafka-listeners-authenticated', breaks: "the voters' listener without client certificates", profile: 'production', says: 'CONTROLLER (SSL without client certificates required)', apply: (dir) =>
      editObjects(dir, byKind('StatefulSet', 'kafka-controller'), (o) => void (containerNamed(o).env = containerNamed(o).env.filter((e: { name: string }) => e.name !== 'KAFKA_LISTENER_NAME_CONTROLLER_SSL_CLIENT_AUTH'))) },
  { check: 'kafka-listeners-authenticated', breaks: 'brokers that reach the voters in PLAINTEXT', profile: 'production', says: 'CONTROLLER (PLAINTEXT)', apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => setEnv(containerNamed(o), 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP', 'INTERNAL:SASL_SSL,CONTROLLER:PLAINTEXT,EXTERNAL:SASL_SSL,INTERBROKER:SSL')) },
  { check: 'kafka-listeners-authenticated', breaks: 'host-name checks turned off between the nodes', profile: 'production', says: 'INTERBROKER (SSL with host-name checks off: ssl.endpoint.identification.algorithm is empty)', apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => setEnv(containerNamed(o), 'KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM', '')) },
  { check: 'kafka-listeners-authenticated', breaks: 'the nodes without a truststore', profile: 'production', says: "CONTROLLER (SSL with no truststore: the JVM's public CAs vouch for peers)", apply: (dir) =>
      editObjects(dir, byKind('StatefulSet', 'kafka-controller'), (o) => void (containerNamed(o).env = containerNamed(o).env.filter((e: { name: string }) => e.name !== 'KAFKA_SSL_TRUSTSTORE_LOCATION'))) },
  { check: 'kafka-jobs-authenticated', breaks: 'the topics Job without its certificate', profile: 'production', says: 'no KAFKA_CLIENT_TLS_DIR: its tools connect without credentials', apply: (dir) =>
      editObjects(dir, topicsJob, (o) => void (containerNamed(o).env = containerNamed(o).env.filter((e: { name: string }) => e.name !== 'KAFKA_CLIENT_TLS_DIR'))) },
  { check: 'kafka-jobs-authenticated', breaks: "the rebalance Job's certificate directory on no Secret", profile: 'production', says: 'KAFKA_CLIENT_TLS_DIR /tmp/admin is on no mounted Secret', apply: (dir) =>
      editObjects(dir, byKind('Job', /^kafka-rebalance-/), (o) => setEnv(containerNamed(o), 'KAFKA_CLIENT_TLS_DIR', '/tmp/admin')) },
  { check: 'kafka-authorizer', breaks: 'brokers without an authorizer', profile: 'production', says: 'env KAFKA_AUTHORIZER_CLASS_NAME (unset): every authenticated user may read, write and delete every topic', apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => void (containerNamed(o).env = containerNamed(o).env.filter((e: { name: string }) => e.name !== 'KAFKA_AUTHORIZER_CLASS_NAME'))) },
  { check: 'kafka-authorizer', breaks: 'voters that allow everyone where no ACL is found', profile: 'production', says: 'env KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND true', apply: (dir) =>
      editObjects(dir, byKind('StatefulSet', 'kafka-controller'), (o) => setEnv(containerNamed(o), 'KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND', 'true')) },
  { check: 'kafka-authorizer', breaks: "an app-id's SCRAM user made a super user", profile: 'production', says: 'names the SCRAM user(s) User:learnflow.app.frontend', apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => setEnv(containerNamed(o), 'KAFKA_SUPER_USERS', 'User:kafka-node;User:kafka-admin;User:learnflow.app.frontend')) },
  { check: 'kafka-authorizer', breaks: "an app-id's SCRAM user made a super user behind a space (Kafka trims it)", profile: 'production', says: 'names the SCRAM user(s) User:learnflow.app.frontend', apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => setEnv(containerNamed(o), 'KAFKA_SUPER_USERS', 'User:kafka-node;User:kafka-admin; User:learnflow.app.frontend')) },
  { check: 'kafka-authorizer', breaks: 'a super user that is no certificate (a SCRAM user of that name would have every right)', profile: 'production', says: 'names User:ops, the common name of no Certificate in dist/ (kafka-node, kafka-admin)', apply: (dir) =>
      editObjects(dir, byKind('StatefulSet', 'kafka-controller'), (o) => setEnv(containerNamed(o), 'KAFKA_SUPER_USERS', 'User:kafka-node;User:kafka-admin;User:ops')) },
  { check: 'kafka-acls-least-privilege', breaks: 'an acls.conf line with a fifth field (the users Job stops on it)', profile: 'production', says: "'learnflow.app.frontend TOPIC learning.query WRITE PREFIXED': 5 fields", apply: editAcls((acls) => `${acls}learnflow.app.frontend TOPIC learning.query WRITE PREFIXED\n`) },
  { check: 'kafka-acls-least-privilege', breaks: 'the users Job removed', profile: 'production', says: 'no ConfigMap in dist/ carries acls.conf', apply: (dir) =>
      editObjects(dir, (o) => (o.kind === 'Job' || o.kind === 'ConfigMap') && o.metadata.name.startsWith('kafka-users-'), () => null) },
  { check: 'kafka-acls-least-privilege', breaks: 'an ACL on a topic that is not declared', profile: 'production', says: "'learnflow.app.frontend TOPIC payments WRITE': topic payments is not declared", apply: editAcls((acls) => `${acls}learnflow.app.frontend TOPIC payments WRITE\n`) },
  { check: 'kafka-acls-least-privilege', breaks: 'the verifier writing to an app topic', profile: 'production', says: "'learnflow.verify TOPIC learning.query WRITE': the verifier describes the topics and reads and writes learnflow.verify only", apply: editAcls((acls) => `${acls}learnflow.verify TOPIC learning.query WRITE\n`) },
  { check: 'kafka-acls-least-privilege', breaks: "an app-id in another app-id's consumer group", profile: 'production', says: 'an app-id gets READ on the consumer group named by itself only', apply: editAcls((acls) => `${acls}learnflow.app.frontend GROUP triage-agent READ\n`) },
  { check: 'kafka-acls-least-privilege', breaks: 'a Subscription whose app-id has no right on its topic', profile: 'production', says: 'learnflow.app.progress-agent lacks READ on topic struggle.detected, READ on group progress-agent', apply: (dir) =>
      addObjects(dir, '31-subscription.yaml', [{ apiVersion: 'dapr.io/v2alpha1', kind: 'Subscription', metadata: { name: 'struggle-detected', namespace: 'learnflow' }, scopes: ['progress-agent'], spec: { pubsubname: 'pubsub', topic: 'struggle.detected', routes: { default: '/events' } } }]) },
  { check: 'kafka-client-port', breaks: 'the topics Job on the controller port', says: 'reaches container port 9093', apply: (dir) => editObjects(dir, topicsJob, (o) => setEnv(containerNamed(o), 'BOOTSTRAP_SERVERS', 'kafka-headless.kafka.svc.cluster.local:9093')) },
  { check: 'kafka-client-port', breaks: 'Dapr on the port-forward listener of a broker', says: 'reaches container port 9094', apply: (dir) =>
      editObjects(dir, daprComponent('pubsub.kafka'), (o) => void (o.spec.metadata.find((m: any) => m.name === 'brokers').value = 'kafka-0.kafka-headless.kafka.svc.cluster.local:9094')) },
  { check: 'kafka-client-port', breaks: 'a bootstrap port the Service does not have', says: 'has no port 9093', apply: (dir) =>
      editObjects(dir, daprComponent('pubsub.kafka'), (o) => void (o.spec.metadata.find((m: any) => m.name === 'brokers').value = 'kafka-bootstrap.kafka.svc.cluster.local:9093')) },
  { check: 'kafka-client-port', breaks: 'a typo in the cluster domain', says: "env BOOTSTRAP_SERVERS: host 'kafka-bootstrap.kafka.svc.cluster.lcoal' ends in cluster domain 'cluster.lcoal', but the brokers in dist/ use cluster.local", apply: (dir) =>
      editObjects(dir, topicsJob, (o) => setEnv(containerNamed(o), 'BOOTSTRAP_SERVERS', 'kafka-bootstrap.kafka.svc.cluster.lcoal:9092')) },
  { check: 'kafka-client-port', breaks: 'a host outside the cluster with the Service and namespace as its first labels', says: "(brokers): host 'kafka-bootstrap.kafka.example.com' is not <service>[.<namespace>", apply: (dir) =>
      editObjects(dir, daprComponent('pubsub.kafka'), (o) => void (o.spec.metadata.find((m: any) => m.name === 'brokers').value = 'kafka-bootstrap.kafka.example.com:9092')) },
  { check: 'kafka-client-port', breaks: 'a pod ordinal beyond the replicas', profile: 'production', says: 'names pod kafka-7, not one of kafka-0..2 (StatefulSet kafka/kafka spec.replicas 3)', apply: (dir) =>
      editObjects(dir, daprComponent('pubsub.kafka'), (o) => void (o.spec.metadata.find((m: any) => m.name === 'brokers').value = 'kafka-7.kafka-headless.kafka.svc.cluster.local:9092')) },
  { check: 'kafka-client-port', breaks: 'a pod name through a Service that is not the governing one', says: 'names pod kafka-0 through Service kafka-bootstrap, which is not the spec.serviceName of StatefulSet kafka/kafka (kafka-headless)', apply: (dir) =>
      editObjects(dir, topicsJob, (o) => setEnv(containerNamed(o), 'BOOTSTRAP_SERVERS', 'kafka-0.kafka-bootstrap.kafka.svc.cluster.local:9092')) },
  { check: 'postgres-client-port', breaks: 'PGHOST outside the cluster', says: "env PGHOST, PGPORT: host 'postgres.postgres.example.com' is not <service>", apply: (dir) => editObjects(dir, migrationsJob, (o) => setEnv(containerNamed(o), 'PGHOST', 'postgres.postgres.example.com')) },
  { check: 'kafka-quorum-voters', breaks: 'a voter outside the cluster', says: "'0@kafka-0.kafka-headless.kafka.example.com:9093' should be voter 0", apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => setEnv(containerNamed(o), 'KAFKA_CONTROLLER_QUORUM_VOTERS', '0@kafka-0.kafka-headless.kafka.example.com:9093')) },
  { check: 'postgres-memory-plan', breaks: 'max_connections raised by hand', says: 'above resources.limits.memory 1Gi', apply: editPostgresArg(/^max_connections=\d+$/, 'max_connections=500') },
  { check: 'postgres-memory-plan', breaks: 'work_mem raised by hand', says: 'work_mem 64Mi', apply: editPostgresArg(/^work_mem=.*$/, 'work_mem=64MB') },
  { check: 'postgres-memory-plan', breaks: 'the memory limit lowered', says: 'above resources.limits.memory 512Mi', apply: (dir) => editObjects(dir, postgresSts, (o) => void (containerNamed(o).resources.limits.memory = '512Mi')) },
  { check: 'postgres-memory-plan', breaks: '/dev/shm without a sizeLimit', says: '.emptyDir.sizeLimit is unset: emptyDir shm at /dev/shm has no sizeLimit', apply: (dir) => editObjects(dir, postgresSts, (o) => void delete o.spec.template.spec.volumes.find((v: any) => v.name === 'shm').emptyDir.sizeLimit) },
  { check: 'postgres-memory-plan', breaks: 'max_connections raised with the short flag -N', says: 'max_connections 500 x', apply: (dir) => editObjects(dir, postgresSts, (o) => void containerNamed(o).args.push('-N', '500')) },
  { check: 'postgres-memory-plan', breaks: 'shared_buffers raised with the attached short flag -B', says: 'shared_buffers 2Gi', apply: (dir) => editObjects(dir, postgresSts, (o) => void containerNamed(o).args.push('-B262144')) },
  { check: 'postgres-memory-plan', breaks: 'max_connections not a number', says: 'sets max_connections to \'many\', not a whole number of at least 1', apply: (dir) => editObjects(dir, postgresSts, (o) => void containerNamed(o).args.push('-N', 'many')) },
  { check: 'postgres-client-port', breaks: 'a Job on another port', says: 'has no port 5433', apply: (dir) => editObjects(dir, migrationsJob, (o) => setEnv(containerNamed(o), 'PGPORT', '5433')) },
  { check: 'postgres-client-port', breaks: 'a Job without certificate verification against a TLS server', profile: 'production', says: "runs with ssl=on, and the client's sslmode is 'require', not verify-full", apply: (dir) =>
      editObjects(dir, migrationsJob, (o) => setEnv(containerNamed(o), 'PGSSLMODE', 'require')) },
  { check: 'postgres-client-port', breaks: 'the exporter verifying against a CA it does not mount', profile: 'production', says: 'sslrootcert /etc/ssl/ca.crt, which is no file of a volume the container mounts', apply: (dir) =>
      editObjects(dir, byKind('Deployment', 'postgres-exporter'), (o) => setEnv(containerNamed(o), 'DATA_SOURCE_URI', 'postgres.postgres.svc.cluster.local:5432/postgres?sslmode=verify-full&sslrootcert=/etc/ssl/ca.crt')) },
  { check: 'postgres-client-port', breaks: 'the server moved to another port', says: 'not the port PostgreSQL listens on (5433)', apply: (dir) =>
      editObjects(dir, postgresSts, (o) => void containerNamed(o).args.push('-c', 'port=5433')) },
  { check: 'network-policy-widening', breaks: 'clients admitted from every namespace', says: 'spec.ingress[0].from[0] namespaceSelector is empty: admits pods with these labels in every namespace', apply: (dir) =>
      editObjects(dir, byKind('NetworkPolicy', 'kafka-clients'), (o) => void (o.spec.ingress[0].from[0].namespaceSelector = {})) },
  { check: 'network-policy-widening', breaks: 'an empty peer', says: 'spec.ingress[0].from[2] is empty', apply: (dir) => editObjects(dir, byKind('NetworkPolicy', 'postgres-clients'), (o) => void o.spec.ingress[0].from.push({})) },
  { check: 'network-policy-widening', breaks: 'a rule without from', says: 'spec.ingress[0].from is unset', apply: (dir) => editObjects(dir, byKind('NetworkPolicy', 'postgres-clients'), (o) => void delete o.spec.ingress[0].from) },
  { check: 'network-policy-widening', breaks: 'every pod of the namespace', says: 'podSelector is empty: admits every pod of namespace kafka', apply: (dir) =>
      editObjects(dir, byKind('NetworkPolicy', 'kafka-clients'), (o) => void (o.spec.ingress[0].from[1].podSelector = {})) },
  { check: 'network-policy-widening', breaks: 'a namespaceSelector that every namespace satisfies (Exists on the name label)', says: 'spec.ingress[0].from[0] namespaceSelector {"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"Exists"}]} matches every namespace: admits pods with these labels in every namespace (anyone who can label a pod) (rule: every ingress peer names its clients', apply: (dir) =>
      editObjects(dir, byKind('NetworkPolicy', 'kafka-clients'), (o) => void (o.spec.ingress[0].from[0].namespaceSelector = { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'Exists' }] })) },
  { check: 'network-policy-widening', breaks: 'a namespaceSelector excluding one label (NotIn)', says: 'matches every namespace', apply: (dir) =>
      editObjects(dir, byKind('NetworkPolicy', 'kafka-clients'), (o) => void (o.spec.ingress[0].from[0].namespaceSelector = { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['untrusted'] }] })) },
  { check: 'network-policy-widening', breaks: 'a podSelector any unlabeled pod satisfies (DoesNotExist)', says: 'matches every pod: admits every pod of namespace kafka', apply: (dir) =>
      editObjects(dir, byKind('NetworkPolicy', 'kafka-clients'), (o) => void (o.spec.ingress[0].from[1].podSelector = { matchExpressions: [{ key: 'quarantined', operator: 'DoesNotExist' }] })) },
  { check: 'rbac-least-privilege', breaks: 'the secret reader bound to the default ServiceAccount', says: 'RoleBinding learnflow/secretstore-reader (30-dapr.yaml): binds Role learnflow/secretstore-reader, which grants Secrets; subjects[0] is ServiceAccount learnflow/default', apply: (dir) =>
      editObjects(dir, byKind('RoleBinding'), (o) => void (o.subjects[0].name = 'default')) },
  { check: 'rbac-least-privilege', breaks: 'the secret reader bound to every ServiceAccount of the namespace (a Group)', says: 'subjects[1] is a Group "system:serviceaccounts:learnflow", not a ServiceAccount', apply: (dir) =>
      editObjects(dir, byKind('RoleBinding'), (o) => void o.subjects.push({ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:serviceaccounts:learnflow' })) },
  { check: 'rbac-least-privilege', breaks: 'the secret reader bound to a ServiceAccount dist/ does not declare', says: 'subjects[0] is ServiceAccount learnflow/learnflow-svc, which dist/ does not declare', apply: (dir) =>
      editObjects(dir, byKind('RoleBinding'), (o) => void (o.subjects[0].name = 'learnflow-svc')) },
  { check: 'rbac-least-privilege', breaks: 'the built-in edit ClusterRole bound to the default ServiceAccount', says: 'binds ClusterRole edit (built into Kubernetes), which grants Secrets; subjects[0] is ServiceAccount kafka/default', apply: (dir) =>
      addObjects(dir, '50-binding.yaml', [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'editors', namespace: 'kafka' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' }, subjects: [{ kind: 'ServiceAccount', name: 'default' }] }]) },
  { check: 'rbac-least-privilege', breaks: 'the secret reader without resourceNames', says: 'rules[0] grants get on secrets without resourceNames: every Secret of the namespace (rule: no wildcards', apply: (dir) => editObjects(dir, byKind('Role'), (o) => void delete o.rules[0].resourceNames) },
  { check: 'rbac-least-privilege', breaks: 'a wildcard verb', says: 'uses a wildcard', apply: (dir) => editObjects(dir, byKind('Role'), (o) => void (o.rules[0].verbs = ['*'])) },
  { check: 'pvc-retention', breaks: 'PVCs deleted with the StatefulSet', says: 'whenDeleted is Delete', apply: (dir) => editObjects(dir, kafkaSts, (o) => void (o.spec.persistentVolumeClaimRetentionPolicy = { whenDeleted: 'Delete', whenScaled: 'Retain' })) },
  { check: 'data-dir-subdirectory', breaks: 'the log dir at the mount point', says: 'mount point itself', apply: (dir) => editObjects(dir, kafkaSts, (o) => setEnv(containerNamed(o), 'KAFKA_LOG_DIRS', '/var/lib/kafka/data')) },
  { check: 'data-dir-subdirectory', breaks: 'the log dir on the root filesystem', says: 'not on a persistent volume', apply: (dir) => editObjects(dir, kafkaSts, (o) => setEnv(containerNamed(o), 'KAFKA_LOG_DIRS', '/opt/kafka/data')) },
  { check: 'network-policy-default-deny', breaks: 'the default-deny policy removed', says: 'namespace kafka has pods but no default-deny ingress', apply: (dir) =>
      editObjects(dir, (o) => o.kind === 'Namespace' || o.kind === 'NetworkPolicy', (o) => (o.kind === 'NetworkPolicy' && Object.keys(o.spec?.podSelector?.matchLabels ?? {}).length === 0 ? null : o)) },
  { check: 'network-policy-peers-resolve', breaks: 'clients admitted from a namespace that does not exist', says: 'admits namespace apps, which dist/ does not declare', apply: (dir) =>
      editObjects(dir, byKind('NetworkPolicy', 'kafka-clients'), (o) => void (o.spec.ingress[0].from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name'] = 'apps')) },
  { check: 'network-policy-peers-resolve', breaks: "a prerequisite annotation naming another namespace than the one admitted", says: 'admits namespace apps, which dist/ does not declare', apply: (dir) =>
      editObjects(dir, byKind('NetworkPolicy', 'kafka-clients'), (o) => {
        o.metadata.annotations = { ...o.metadata.annotations, 'learnflow.dev/prerequisite-namespace': 'monitoring' };
        o.spec.ingress[0].from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name'] = 'apps';
      }) },
  { check: 'prometheus-operator-crd-schema', breaks: 'a PodMonitor with an unknown field', says: 'podMetricsEndpoint: unknown field', apply: (dir) =>
      addObjects(dir, '40-observability.yaml', [{ apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor', metadata: { name: 'kafka', namespace: 'kafka' }, spec: { selector: {}, podMetricsEndpoint: [{ port: 'metrics' }] } }]) },
  { check: 'network-reachability', breaks: 'PostgreSQL clients admitted from the whole apps namespace', says: 'the code sandbox) reaches statefulset/postgres in postgres on 5432/TCP', apply: (dir) =>
      editObjects(dir, byKind('NetworkPolicy', 'postgres-clients'), (o) => void delete o.spec.ingress[0].from[0].podSelector) },
  { check: 'kafka-parallel-pod-management', breaks: 'OrderedReady', says: 'OrderedReady', apply: (dir) => editObjects(dir, kafkaSts, (o) => void (o.spec.podManagementPolicy = 'OrderedReady')) },
  { check: 'kafka-headless-service', breaks: 'not-ready addresses unpublished', says: 'publishNotReadyAddresses', apply: (dir) => editObjects(dir, byKind('Service', 'kafka-headless'), (o) => void delete o.spec.publishNotReadyAddresses) },
  { check: 'kafka-headless-service', breaks: 'serviceName pointing at the ClusterIP Service', says: 'clusterIP is not None', apply: (dir) => editObjects(dir, kafkaSts, (o) => void (o.spec.serviceName = 'kafka-bootstrap')) },
  { check: 'kafka-service-links-disabled', breaks: 'service links enabled', says: 'enableServiceLinks', apply: (dir) => editObjects(dir, kafkaSts, (o) => void delete o.spec.template.spec.enableServiceLinks) },
  { check: 'kafka-quorum-voters', breaks: '3 replicas with 1 voter', says: '1 voter(s) for 3 replica(s)', apply: (dir) => editObjects(dir, kafkaSts, (o) => void (o.spec.replicas = 3)) },
  { check: 'kafka-quorum-voters', breaks: 'a voter on the broker port', says: 'uses port 9092', apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => {
        const env = containerNamed(o).env.find((e: any) => e.name === 'KAFKA_CONTROLLER_QUORUM_VOTERS');
        env.value = env.value.replace(/:9093/g, ':9092');
      }) },
  { check: 'kafka-quorum-size', breaks: 'two voters', says: '2 voters: survives no more failures than 1 voters', apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => {
        o.spec.replicas = 2;
        const env = containerNamed(o).env.find((e: any) => e.name === 'KAFKA_CONTROLLER_QUORUM_VOTERS');
        env.value = `${env.value},${env.value.replace(/^0@kafka-0/, '1@kafka-1')}`;
      }) },
  { check: 'kafka-disruption-safety', breaks: 'a budget that evicts unhealthy pods', says: 'unhealthyPodEvictionPolicy AlwaysAllow', apply: (dir) =>
      editObjects(dir, byKind('PodDisruptionBudget', 'kafka'), (o) => void (o.spec.unhealthyPodEvictionPolicy = 'AlwaysAllow')) },
  { check: 'kafka-disruption-safety', breaks: 'a port check for readiness', says: 'a port check: Ready before the node has caught up', apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => void (containerNamed(o).readinessProbe = { tcpSocket: { port: 'internal' }, periodSeconds: 10 })) },
  { check: 'kafka-disruption-safety', breaks: 'two pods at a time', says: 'lets 2 pods be disrupted at once', apply: (dir) =>
      editObjects(dir, byKind('PodDisruptionBudget', 'kafka'), (o) => void (o.spec.maxUnavailable = 2)) },
  { check: 'kafka-internal-topic-replication', breaks: 'offsets topic RF left at the default 3 on one broker', says: 'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=3 (Kafka default)', apply: (dir) => editObjects(dir, kafkaSts, (o) => setEnv(containerNamed(o), 'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', undefined)) },
  { check: 'kafka-heap-within-limit', breaks: 'a heap above the memory limit', says: 'not below the memory limit', apply: (dir) => editObjects(dir, kafkaSts, (o) => setEnv(containerNamed(o), 'KAFKA_HEAP_OPTS', '-Xmx2g -Xms2g')) },
  { check: 'kafka-topic-replication', breaks: 'a topic RF above the broker count', says: 'learning.query: replication factor 3 with 1 broker(s)', apply: editTopics((conf) => conf.replace(/^learning\.query 3 1 /m, 'learning.query 3 3 ')) },
  { check: 'kafka-min-insync-replicas', breaks: 'min.insync.replicas above RF', says: 'min.insync.replicas 2 with replication factor 1: every acks=all producer always fails', apply: editTopics((conf) => conf.replace(/^(learning\.response .*)min\.insync\.replicas=1/m, '$1min.insync.replicas=2')) },
  { check: 'kafka-topics-declared', breaks: 'a LearnFlow topic missing', says: 'learning.response is not declared', apply: editTopics((conf) => conf.replace(/^learning\.response .*\n/m, '')) },
  { check: 'kafka-topics-declared', breaks: 'a retention changed', says: 'struggle.detected: retention.ms 1000', apply: editTopics((conf) => conf.replace(/^(struggle\.detected .*retention\.ms=)\d+/m, '$11000')) },
  { check: 'kafka-topics-declared', breaks: 'too few partitions', says: 'exercise.graded: 1 partitions', apply: editTopics((conf) => conf.replace(/^exercise\.graded 2 /m, 'exercise.graded 1 ')) },
  { check: 'postgres-tables-declared', breaks: 'a table missing from the migrations', says: 'struggle_alerts', apply: editSql(/create table\s+(if not exists\s+)?\S*struggle_alerts/i, (sql) => sql.replace(/create table\s+(if not exists\s+)?("?\w+"?\.)?"?struggle_alerts"?/gi, 'CREATE TABLE struggle_alerts_old')) },
  { check: 'postgres-seed-curriculum', breaks: 'curriculum rows missing', says: 'needs 24', apply: editSql(/insert into\s+\S*topics/i, (sql) => sql.replace(/\),\s*\n\s*\(/, '); SELECT (')) },
  { check: 'dapr-crd-schema', breaks: 'an unknown Component field', says: 'spec.ignoreError: unknown field', apply: (dir) => editObjects(dir, daprComponent('pubsub.kafka'), (o) => void (o.spec.ignoreError = true)) },
  { check: 'dapr-component-metadata', breaks: 'pubsub.kafka without authType', says: 'authType', apply: (dir) =>
      editObjects(dir, daprComponent('pubsub.kafka'), (o) => void (o.spec.metadata = o.spec.metadata.filter((m: any) => m.name !== 'authType'))) },
  { check: 'dapr-component-scopes', breaks: 'an unscoped Component', says: 'has no scopes', apply: (dir) => editObjects(dir, daprComponent('pubsub.kafka'), (o) => void delete o.scopes) },
  { check: 'dapr-pubsub-per-app', breaks: "one app's pub/sub scoped to two app-ids (one credential shared)", says: 'is scoped to 2 app-ids (frontend, triage-agent): they would share one Kafka principal', apply: (dir) =>
      editObjects(dir, byKind('Component', 'pubsub-frontend'), (o) => void o.scopes.push('triage-agent')) },
  { check: 'dapr-pubsub-per-app', breaks: "two app-ids' pub/subs logging in with one credential", profile: 'production', says: 'Component learnflow/pubsub-frontend (app-id frontend) shares user learnflow.app.triage-agent, password Secret learnflow-kafka-triage-agent with Component learnflow/pubsub-triage-agent', apply: (dir) =>
      editObjects(dir, byKind('Component', 'pubsub-frontend'), (o) => {
        o.spec.metadata.find((m: any) => m.name === 'saslUsername').value = 'learnflow.app.triage-agent';
        o.spec.metadata.find((m: any) => m.name === 'saslPassword').secretKeyRef.name = 'learnflow-kafka-triage-agent';
      }) },
  { check: 'dapr-pubsub-per-app', breaks: "a pub/sub logging in with a credential that is not its app's", profile: 'production', says: 'Component learnflow/pubsub-frontend is scoped to app-id frontend but logs in with user learnflow.app.retired, password Secret learnflow-kafka-retired', apply: (dir) =>
      editObjects(dir, byKind('Component', 'pubsub-frontend'), (o) => {
        o.spec.metadata.find((m: any) => m.name === 'saslUsername').value = 'learnflow.app.retired';
        o.spec.metadata.find((m: any) => m.name === 'saslPassword').secretKeyRef.name = 'learnflow-kafka-retired';
      }) },
  { check: 'dapr-pubsub-per-app', breaks: 'an unscoped pub/sub', says: 'is scoped to no app-id', apply: (dir) => editObjects(dir, byKind('Component', 'pubsub-frontend'), (o) => void delete o.scopes) },
  { check: 'dapr-pubsub-per-app', breaks: "a Subscription through another app's pub/sub", says: "delivers to app-id(s) frontend through Component learnflow/pubsub-progress-agent", apply: (dir) =>
      addObjects(dir, '31-subscription.yaml', [{ apiVersion: 'dapr.io/v2alpha1', kind: 'Subscription', metadata: { name: 'struggle-detected-frontend', namespace: 'learnflow' }, scopes: ['frontend'], spec: { pubsubname: 'pubsub-progress-agent', topic: 'struggle.detected', routes: { default: '/events' } } }]) },
  { check: 'dapr-pubsub-per-app', breaks: 'a Subscription naming the old shared pubsub', says: "spec.pubsubname 'pubsub' is no pub/sub Component", apply: (dir) =>
      addObjects(dir, '31-subscription.yaml', [{ apiVersion: 'dapr.io/v2alpha1', kind: 'Subscription', metadata: { name: 'struggle-detected', namespace: 'learnflow' }, scopes: ['frontend'], spec: { pubsubname: 'pubsub', topic: 'struggle.detected', routes: { default: '/events' } } }]) },
  { check: 'dapr-pubsub-authenticated', breaks: 'a pub/sub with authType none against SASL brokers', profile: 'production', says: "Component learnflow/pubsub-frontend: authType is 'none', not 'password' (SASL)", apply: (dir) =>
      editObjects(dir, byKind('Component', 'pubsub-frontend'), (o) => void (o.spec.metadata = [...o.spec.metadata.filter((m: any) => !/^(authType|sasl|caCert|disableTls)/.test(m.name)), { name: 'authType', value: 'none' }])) },
  { check: 'dapr-pubsub-authenticated', breaks: 'the SASL password as a plain value', profile: 'production', says: 'saslPassword comes from an inline value, not a secretKeyRef', apply: (dir) =>
      editObjects(dir, byKind('Component', 'pubsub-frontend'), (o) => {
        const password = o.spec.metadata.find((m: any) => m.name === 'saslPassword');
        delete password.secretKeyRef;
        password.value = 'hunter2-do-not-print';
      }) },
  { check: 'dapr-pubsub-authenticated', breaks: 'TLS disabled', profile: 'production', says: 'disableTls is true', apply: (dir) =>
      editObjects(dir, byKind('Component', 'pubsub-frontend'), (o) => void (o.spec.metadata.find((m: any) => m.name === 'disableTls').value = 'true')) },
  { check: 'dapr-pubsub-authenticated', breaks: "TLS disabled by a value Dapr reads as true ('True')", profile: 'production', says: 'disableTls is true', apply: (dir) =>
      editObjects(dir, byKind('Component', 'pubsub-frontend'), (o) => void (o.spec.metadata.find((m: any) => m.name === 'disableTls').value = 'True')) },
  { check: 'dapr-pubsub-authenticated', breaks: 'no CA', profile: 'production', says: 'no caCert', apply: (dir) =>
      editObjects(dir, byKind('Component', 'pubsub-frontend'), (o) => void (o.spec.metadata = o.spec.metadata.filter((m: any) => m.name !== 'caCert'))) },
  { check: 'dapr-pubsub-authenticated', breaks: 'a mechanism the brokers do not enable', profile: 'production', says: "saslMechanism 'SHA-256' is SCRAM-SHA-256, which the brokers do not enable (SCRAM-SHA-512)", apply: (dir) =>
      editObjects(dir, byKind('Component', 'pubsub-frontend'), (o) => void (o.spec.metadata.find((m: any) => m.name === 'saslMechanism').value = 'SHA-256')) },
  { check: 'kafka-client-port', breaks: 'Dapr brokers naming a Service that does not exist', says: 'kafka.kafka.svc:9092 names no Service', apply: (dir) =>
      editObjects(dir, daprComponent('pubsub.kafka'), (o) => void (o.spec.metadata.find((m: any) => m.name === 'brokers').value = 'kafka.kafka.svc:9092')) },
];

const reverseKeys = (value: any): any =>
  Array.isArray(value) ? value.map(reverseKeys) : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeys(v)])) : value;

interface KeepCase {
  readonly check: string;
  readonly keeps: string;
  readonly apply: (dir: string) => void;
  /** Text the passing message must contain (what the check read). */
  readonly says?: string;
  readonly profile?: 'production';
}

// Hand edits that keep the rule: the checks read what the YAML means, not how it is written.
const KEEPS: KeepCase[] = [
  { check: 'job-content-hash', keeps: 'Job and ConfigMap keys reordered (a YAML formatter)', apply: (dir) => editObjects(dir, (o) => o.kind === 'Job' || o.kind === 'ConfigMap', (o) => reverseKeys(o)) },
  { check: 'job-content-hash', keeps: 'another Argo CD sync wave', apply: (dir) => editObjects(dir, topicsJob, (o) => void (o.metadata.annotations!['argocd.argoproj.io/sync-wave'] = '12')) },
  { check: 'pdb-availability', keeps: 'maxUnavailable 33% of 3 brokers (rounds up to 1)', profile: 'production', says: 'allows 1 of 3', apply: (dir) => editObjects(dir, kafkaBudget, (o) => void (o.spec.maxUnavailable = '33%')) },
  { check: 'pdb-availability', keeps: 'minAvailable 2 of 3 brokers', profile: 'production', says: 'allows 1 of 3', apply: (dir) =>
      editObjects(dir, kafkaBudget, (o) => {
        delete o.spec.maxUnavailable;
        o.spec.minAvailable = 2;
      }) },
  { check: 'kafka-client-port', keeps: 'short Service names (<svc>.<ns>, <svc>.<ns>.svc)', says: 'kafka-bootstrap.kafka.svc:9092 reaches the client listener', apply: (dir) => {
      editObjects(dir, topicsJob, (o) => setEnv(containerNamed(o), 'BOOTSTRAP_SERVERS', 'kafka-bootstrap.kafka:9092'));
      editObjects(dir, daprComponent('pubsub.kafka'), (o) => void (o.spec.metadata.find((m: any) => m.name === 'brokers').value = 'kafka-bootstrap.kafka.svc:9092'));
    } },
  { check: 'kafka-client-port', keeps: 'every broker by its pod name', profile: 'production', says: 'kafka-2.kafka-headless.kafka.svc.cluster.local:9092 reaches the client listener', apply: (dir) =>
      editObjects(dir, daprComponent('pubsub.kafka'), (o) => void (o.spec.metadata.find((m: any) => m.name === 'brokers').value = [0, 1, 2].map((i) => `kafka-${i}.kafka-headless.kafka.svc.cluster.local:9092`).join(','))) },
  { check: 'kafka-listeners-authenticated', keeps: "the voters' client certificates required node-wide (ssl.client.auth)", profile: 'production', says: 'every listener authenticates over TLS', apply: (dir) =>
      editObjects(dir, byKind('StatefulSet', 'kafka-controller'), (o) => {
        const container = containerNamed(o);
        container.env = container.env.filter((e: { name: string }) => e.name !== 'KAFKA_LISTENER_NAME_CONTROLLER_SSL_CLIENT_AUTH');
        setEnv(container, 'KAFKA_SSL_CLIENT_AUTH', 'required');
      }) },
  { check: 'dapr-pubsub-per-app', keeps: 'a Subscription through the pub/sub of the app it delivers to', says: 'Subscription learnflow/struggle-detected-frontend: frontend through Component learnflow/pubsub-frontend', apply: (dir) =>
      addObjects(dir, '31-subscription.yaml', [{ apiVersion: 'dapr.io/v2alpha1', kind: 'Subscription', metadata: { name: 'struggle-detected-frontend', namespace: 'learnflow' }, scopes: ['frontend'], spec: { pubsubname: 'pubsub-frontend', topic: 'struggle.detected', routes: { default: '/events' } } }]) },
  { check: 'dapr-pubsub-authenticated', keeps: 'the SASL username from a Secret too', profile: 'production', says: 'Component learnflow/pubsub-frontend logs in as (username from a Secret)', apply: (dir) =>
      editObjects(dir, byKind('Component', 'pubsub-frontend'), (o) => void (o.spec.metadata = o.spec.metadata.map((m: any) => (m.name === 'saslUsername' ? { name: 'saslUsername', secretKeyRef: { name: 'learnflow-kafka-frontend', key: 'username' } } : m)))) },
  { check: 'postgres-client-port', keeps: 'PGHOST as <svc>.<ns>', says: 'postgres.postgres:5432 reaches the port PostgreSQL listens on', apply: (dir) => editObjects(dir, migrationsJob, (o) => setEnv(containerNamed(o), 'PGHOST', 'postgres.postgres')) },
  { check: 'kafka-quorum-voters', keeps: 'a voter without the cluster domain', says: '1 voter(s) for 1 replica(s)', apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => setEnv(containerNamed(o), 'KAFKA_CONTROLLER_QUORUM_VOTERS', '0@kafka-0.kafka-headless.kafka.svc:9093')) },
  { check: 'pod-anti-affinity', keeps: 'a namespaceSelector matching the Namespace by name', profile: 'production', says: '3 replicas on 3 different nodes', apply: (dir) =>
      editObjects(dir, kafkaSts, (o) => void (o.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaceSelector = { matchLabels: { 'kubernetes.io/metadata.name': 'kafka' } })) },
  { check: 'network-policy-widening', keeps: 'the client namespace named by matchExpressions In', says: 'each naming its clients', apply: (dir) =>
      editObjects(dir, byKind('NetworkPolicy', 'kafka-clients'), (o) => void (o.spec.ingress[0].from[0].namespaceSelector = { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['learnflow'] }] })) },
  { check: 'rbac-least-privilege', keeps: 'the secret reader bound to its ServiceAccount by explicit namespace', says: 'to ServiceAccount learnflow/learnflow-services only', apply: (dir) =>
      editObjects(dir, byKind('RoleBinding'), (o) => void (o.subjects[0].namespace = 'learnflow')) },
  { check: 'postgres-memory-plan', keeps: 'max_connections lowered with -N', says: 'max_connections 20 x', apply: (dir) => editObjects(dir, postgresSts, (o) => void containerNamed(o).args.push('-N', '20')) },
  { check: 'postgres-memory-plan', keeps: 'shared_buffers in 8 kB pages, -cname=value', says: 'shared_buffers 256Mi', apply: (dir) =>
      editObjects(dir, postgresSts, (o) => {
        const args = containerNamed(o).args as string[];
        const at = args.indexOf('shared_buffers=256MB');
        args.splice(at - 1, 2, '-cshared_buffers=32768');
      }) },
];

function failures(report: VerifyReport): string[] {
  return failing(report).flatMap((check) => check.results.filter((r) => r.status !== 'pass' && r.status !== 'skip').map((r) => `${check.id}: ${r.message}`));
}

describe('verify: static checks on a healthy dist/ and on broken copies', () => {
  let healthy: string;
  let production: string;

  beforeAll(() => {
    healthy = synthesizeDist();
    production = synthesizeDist(['--profile', 'production']);
  });

  it('passes every check on the freshly synthesized dist/ (minikube)', async () => {
    const report = await verify(healthy);
    expect(failures(report)).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.checks.map((check) => check.id)).toEqual(STATIC_CHECKS.map((check) => check.id));
  });

  it('passes every check on the production profile (3 brokers)', async () => {
    const report = await verify(production);
    expect(failures(report)).toEqual([]);
    expect(checkOf(report, 'kafka-quorum-voters').results.map((r) => r.message)).toContain('StatefulSet kafka/kafka-controller: 3 voter(s) for 3 replica(s)');
  });

  it('warns that no event flows while dapr.publications and dapr.subscriptions are empty (production), and not once both are declared', async () => {
    const idle = checkOf(await verify(production, { only: ['kafka-acls-least-privilege'] }), 'kafka-acls-least-privilege');
    expect(idle.results.map((r) => r.status)).toEqual(['warn']);
    expect(idle.results[0].message).toContain('no app-id publishes (no app-id has WRITE on a topic) or consumes (no app-id has READ on a topic): with the authorizer on, no event flows');
    const override = path.join(path.dirname(healthy), 'flows.yaml');
    fs.writeFileSync(override, 'dapr:\n  publications: [{ topic: learning.query, appIds: [frontend] }]\n  subscriptions: [{ topic: learning.query, appIds: [triage-agent] }]\n');
    const flowing = checkOf(await verify(synthesizeDist(['--profile', 'production', '--config', override]), { only: ['kafka-acls-least-privilege'] }), 'kafka-acls-least-privilege');
    expect(flowing.results.map((r) => r.status)).toEqual(['pass']);
  });

  it('passes every check with another cluster DNS domain (platform.clusterDomain)', async () => {
    const override = path.join(path.dirname(healthy), 'cluster-domain.yaml');
    fs.writeFileSync(override, 'platform: { clusterDomain: corp.example }\n');
    const report = await verify(synthesizeDist(['--config', override]));
    expect(failures(report)).toEqual([]);
  });

  it('warns "production rules not applied" when dist/ states no profile, and judges by the document when the labels are gone', async () => {
    const unlabelled = copyDist(production);
    editObjects(unlabelled, byKind('Namespace'), (o) => void delete o.metadata.labels!['learnflow.io/profile']);
    const byDocument = await verify(unlabelled, { only: ['pod-anti-affinity', 'kafka-min-insync-replicas'] });
    expect(checkOf(byDocument, 'pod-anti-affinity').results.map((r) => r.status)).not.toContain('warn');
    dropProfileLine(unlabelled);
    const report = await verify(unlabelled, { only: ['pod-anti-affinity', 'kafka-min-insync-replicas'] });
    for (const id of ['pod-anti-affinity', 'kafka-min-insync-replicas']) {
      const warnings = checkOf(report, id).results.filter((r) => r.status === 'warn').map((r) => r.message);
      expect(warnings.join('\n')).toContain('no profile in dist/ (no learnflow.io/profile label on the Namespaces');
      expect(warnings.join('\n')).toContain('production rules not applied');
    }
  });

  it('has at least one break case for every static check', () => {
    const covered = new Set(CASES.map((c) => c.check));
    expect(STATIC_CHECKS.map((check) => check.id).filter((id) => !covered.has(id))).toEqual([]);
  });

  it('passes every check with the Jobs as Argo CD hooks (their annotations are hashed too)', async () => {
    const override = path.join(path.dirname(healthy), 'argocd-hooks.yaml');
    fs.writeFileSync(override, 'platform: { argoCdHooks: true }\n');
    const report = await verify(synthesizeDist(['--config', override]));
    expect(failures(report)).toEqual([]);
    // The topics, rebalance, features, migrations and seed Jobs.
    expect(checkOf(report, 'job-content-hash').results.map((r) => r.status)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass']);
  });

  it.each(KEEPS)('$check still passes on a copy with $keeps', async ({ check, apply, says, profile }) => {
    const dir = copyDist(profile === 'production' ? production : healthy);
    apply(dir);
    const report = await verify(dir, { only: [check] });
    expect(failures(report)).toEqual([]);
    if (says) expect(checkOf(report, check).results.map((r) => r.message).join('\n')).toContain(says);
  });

  it.each(CASES)('$check fails on a copy with $breaks', async ({ check, apply, says, profile }) => {
    const dir = copyDist(profile === 'production' ? production : healthy);
    apply(dir);
    const report = await verify(dir, { only: [check] });
    const result = checkOf(report, check);
    expect(result.status).toBe('fail');
    const failures = result.results.filter((r) => r.status === 'fail');
    if (says) expect(failures.map((r) => r.message).join('\n')).toContain(says);
    expect(failures.every((r) => (r.remediation ?? result.remediation).length > 0)).toBe(true);
    expect(report.exitCode).toBe(1);
    // Findings name where a secret is, never the secret itself.
    expect(JSON.stringify(report)).not.toContain('hunter2-do-not-print');
  });

  it('never imports the constructs: only pure libraries from lib/ (it must judge hand-edited YAML)', () => {
    const verifyDir = path.join(__dirname, '..', 'verify');
    const sources = (fs.readdirSync(verifyDir, { recursive: true }) as string[]).filter((file) => file.endsWith('.ts'));
    const libImports = sources.flatMap((file) =>
      [...fs.readFileSync(path.join(verifyDir, file), 'utf8').matchAll(/from '((?:\.\.\/)+lib\/[^']+)'/g)].map((m) => path.resolve(verifyDir, path.dirname(file), m[1])),
    );
    const allowed = ['lib/config/cron', 'lib/config/job-limits', 'lib/config/kafka-principals', 'lib/config/quantity', 'lib/config/postgres-memory', 'lib/dapr/component-metadata', 'lib/exit-codes', 'lib/platform/content-hash', 'lib/platform/endpoints', 'lib/platform/gitops', 'lib/platform/labels', 'lib/platform/project-files'].map((module) => path.resolve(verifyDir, '..', module));
    expect(sources.length).toBeGreaterThan(10);
    expect(libImports.length).toBeGreaterThan(0); // the pattern sees the imports that are allowed
    expect(libImports.filter((module) => !allowed.includes(module))).toEqual([]);
  });
});
