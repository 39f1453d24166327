import { type ChildProcess, spawn } from 'node:child_process';
import { ENDPOINTS_DOCUMENT } from '../../lib/platform/endpoints';
import { ClusterUnavailableError, withTimeout } from '../cluster/cluster-reader';
import { kubectlContextArgs, readSecretKey } from '../cluster/kube-cluster-reader';
import type { Dist } from '../dist';
import type { DistObject } from '../model';
import { objectsOfKind, secretKeyOfFile } from '../workloads';
import { dataPlaneOf, type OpenDataPlane } from './data-plane';
import { type PortForward, parsePortForwards } from './endpoints-document';
import { clusterKafkaAuth, type GivenKafkaCredentials, kafkaClientListenerOf } from './kafka-auth';
import { KafkaTarget } from './kafka-target';
import { type PostgresConnection, PostgresTarget } from './postgres-target';


/**
 * The application role as the migrations Job creates it: role, database, and the Secret key its password
 * comes from (the Job reads it as the file app-role-password of CREDENTIALS_DIR).
 */
export interface AppRole {
  readonly job: DistObject;
  readonly user: string;
  readonly database: string;
  readonly secret: { name: string; key: string };
  /**
   * The Secret key naming the login in use (the file app-role-username): the role, or its twin after
   * `npm run secrets -- --rotate app`, whose password the Secret holds. @default - the role itself
   */
  readonly login?: { name: string; key: string };
  /** With the Job on verify-full (PGSSLMODE): the Secret key of its CA file (PGSSLROOTCERT) and the host it verifies (PGHOST). */
  readonly tls?: { readonly secret: { name: string; key: string }; readonly servername: string };
}

export function appRoleOf(dist: Dist): AppRole | undefined {
  for (const job of objectsOfKind(dist, 'Job')) {
    const pod = job.object.spec?.template?.spec ?? {};
    for (const container of (pod.containers ?? []) as Record<string, any>[]) {
      const env = new Map(((container.env ?? []) as { name: string; value?: string }[]).map((entry) => [entry.name, entry.value]));
      const user = env.get('APP_ROLE');
      const database = env.get('APP_DATABASE');
      const credentials = env.get('CREDENTIALS_DIR');
      const secret = credentials ? secretKeyOfFile(pod, container, `${credentials}/app-role-password`) : undefined;
      const login = credentials ? secretKeyOfFile(pod, container, `${credentials}/app-role-username`) : undefined;
      const caSecret = env.get('PGSSLMODE') === 'verify-full' && env.get('PGSSLROOTCERT') ? secretKeyOfFile(pod, container, env.get('PGSSLROOTCERT')!) : undefined;
      const tls = caSecret && env.get('PGHOST') ? { secret: caSecret, servername: env.get('PGHOST')! } : undefined;
      if (user && database && secret) return { job, user, database, secret, ...(login ? { login } : {}), ...(tls ? { tls } : {}) };
    }
  }
  return undefined;
}

/** Starts `kubectl port-forward` and resolves once it listens; rejects with kubectl's own words otherwise. */
function startPortForward(forward: PortForward, timeoutMs: number, started: ChildProcess[]): Promise<void> {
  const [, ...args] = forward.command;
  const child = spawn('kubectl', [...kubectlContextArgs(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  const what = forward.command.join(' ');
  const listening = new Promise<void>((resolve, reject) => {
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Forwarding from')) resolve();
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) => reject(new ClusterUnavailableError(`${what}: ${error.message}`)));
    child.once('exit', (code) => reject(new ClusterUnavailableError(`${what} exited (${code}): ${stderr.trim().split('\n').pop() ?? ''}`)));
  });
  return withTimeout(listening, timeoutMs, what);
}

/**
 * The data plane through the port-forwards that dist/infra-endpoints.txt documents, with the
 * application role's password read from its Secret through the cluster API, and Kafka's credentials
 * where its listener asks for them (kafka-auth.ts: the command line's, else the Secrets'). The kubectl
 * processes stop when the data plane is closed, and at the latest when this process exits.
 */
export function portForwardedDataPlane(timeoutMs: number, kafkaCredentials: GivenKafkaCredentials = {}): OpenDataPlane {
  return async ({ dist, clusterReached, onProgress }) => {
    if (!clusterReached) throw new ClusterUnavailableError('no cluster answered, so there is nothing to port-forward through (or pass --kafka-brokers and --postgres-url)');
    const document = dist.documents[ENDPOINTS_DOCUMENT];
    if (document === undefined) throw new ClusterUnavailableError(`dist/${ENDPOINTS_DOCUMENT} is missing: it names the port-forwards (npm run synth writes it)`);
    const forwards = parsePortForwards(document);
    const kafkaForwards = forwards.filter((forward) => /kafka/i.test(forward.section));
    const postgresForward = forwards.find((forward) => /postgres/i.test(forward.section));
    const role = postgresForward ? appRoleOf(dist) : undefined;

    const started: ChildProcess[] = [];
    const stop = () => {
      process.removeListener('exit', stop);
      for (const child of started) if (child.exitCode === null) child.kill();
    };
    process.once('exit', stop);
    try {
      onProgress?.(`starting ${kafkaForwards.length + (postgresForward ? 1 : 0)} port-forward(s)`);
      const namespace = role?.job.object.metadata.namespace ?? 'default';
      const listener = kafkaClientListenerOf(dist);
      const [kafkaAuth, password, login, ca] = await Promise.all([
        kafkaForwards.length > 0 ? clusterKafkaAuth(listener, kafkaCredentials, (ns, name, key) => readSecretKey(ns, name, key, timeoutMs)) : undefined,
        role ? readSecretKey(namespace, role.secret.name, role.secret.key, timeoutMs) : undefined,
        role?.login ? readSecretKey(namespace, role.login.name, role.login.key, timeoutMs) : undefined,
        // PostgreSQL with TLS on admits only TLS: verified against the CA the Jobs use, for the in-cluster name.
        role?.tls ? readSecretKey(namespace, role.tls.secret.name, role.tls.secret.key, timeoutMs) : undefined,
        ...[...kafkaForwards, ...(postgresForward ? [postgresForward] : [])].map((forward) => startPortForward(forward, timeoutMs, started)),
      ]);
      const kafka = kafkaForwards.length > 0 ? new KafkaTarget(kafkaForwards.map((forward) => `localhost:${forward.localPort}`), timeoutMs, kafkaAuth) : undefined;
      const connection: PostgresConnection | undefined =
        postgresForward && role && password !== undefined
          ? {
              host: '127.0.0.1',
              port: postgresForward.localPort,
              user: login ?? role.user,
              password,
              database: role.database,
              ...(role.tls && ca !== undefined ? { tls: { ca, servername: role.tls.servername } } : {}),
            }
          : undefined;
      const postgres = connection ? new PostgresTarget(connection, timeoutMs) : undefined;
      return dataPlaneOf(kafka, postgres, 'kubectl port-forward', stop);
    } catch (error) {
      stop();
      throw error;
    }
  };
}
