import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { EXIT, type ExitCode } from '../lib/exit-codes';
import type { PostgresServer } from '../lib/postgres/postgres-server';
import { generateSecretValues, type RestartRule, type SecretContract } from '../lib/postgres/secrets';

// `npm run secrets -- --rotate <role>` and `--finish <role>`: a password rotation that locks no client out.
//
// PostgreSQL checks a password when a session starts, never later, and a role has exactly one. Changing it
// and then the Secret leaves a window in which a pod that (re)connects with the Secret's old value is refused;
// changing the Secret first leaves the opposite window (a new pod has the new value, the role still the old
// one). Either window is as long as it takes to update the other side, and pods that read the Secret at start
// keep the old value until they restart. So each rotatable role has two logins (seed/cluster.sql): --rotate
// gives the idle one a new password, then points every copy of the Secret at it; pods still on the old login
// keep working (their password is unchanged) until they restart onto the new one; --finish removes the old
// login's password once nobody uses it.

/** On every copy of a rotated Secret: when --rotate pointed it at the new login (ISO 8601), which --finish checks the readers' start against. */
export const ROTATED_AT_ANNOTATION = 'learnflow.dev/rotated-at';

export class RotationError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}

/** What a rotation needs of the cluster: kubectl for Secrets and workloads, psql as the superuser in the server pod. */
export interface RotationCluster {
  /** kubectl's stdout; throws a RotationError (could not check, or apply for a change) when it fails. */
  kubectl(args: readonly string[], input?: string): string;
  /** `kubectl exec` of psql in the server pod: the superuser over the pod's socket, the script on stdin. */
  psql(script: string): string;
  readSecret(name: string, namespace: string): Record<string, string> | undefined;
}

export function psqlInServerPod(server: PostgresServer): readonly string[] {
  // Peer authentication as 'postgres' on the pod's socket (pg_hba: `local all postgres peer`; the image's own
  // file trusts local connections): no password of ours is needed for it. -At: bare values, '|' between them.
  return ['exec', '-i', '-n', server.namespace, `${server.statefulSetName}-0`, '-c', 'postgres', '--', 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-f', '-'];
}

/** The rotatable Secrets by the name `--rotate` takes. */
export function rotatable(secrets: readonly SecretContract[]): Map<string, SecretContract> {
  return new Map(secrets.filter((secret) => secret.rotation).map((secret) => [secret.rotation!.name, secret]));
}

/** The contract `--rotate name` / `--finish name` means, or a usage error that says what it takes. */
export function rotationTarget(secrets: readonly SecretContract[], name: string, flag: string): SecretContract {
  const targets = rotatable(secrets);
  const target = targets.get(name);
  if (target) return target;
  const names = [...targets.keys()].join(', ');
  const known = secrets.find((secret) => secret.name === name || secret.name === `learnflow-postgres-${name}`);
  const why = known
    ? `secret ${known.name} is not rotated by ${flag}: ${notRotatableReason(known.name)}`
    : `no such role: ${flag} takes one of ${names}`;
  throw new RotationError(`${flag} ${name}: ${why}`, EXIT.usage);
}

function notRotatableReason(secretName: string): string {
  if (secretName.endsWith('-superuser')) return 'the superuser is used only by the Jobs and the server pod (change it with ALTER ROLE postgres, then the Secret)';
  if (secretName.endsWith('-seed-users')) return 'it holds the test users\' initial passwords, not a PostgreSQL role';
  return 'only the CronJobs read it, each at its start (change the role and the Secret between two runs)';
}

interface LoginState {
  readonly hasPassword: boolean;
  readonly connectionLimit: number;
  readonly sessions: number;
}

/** The two logins of the role as the server has them; a missing one is an error that says which Job creates it. */
function loginStates(cluster: RotationCluster, logins: readonly [string, string]): Map<string, LoginState> {
  const output = cluster.psql(
    `SELECT r.rolname, r.rolpassword IS NOT NULL, r.rolconnlimit, (SELECT count(*) FROM pg_stat_activity a WHERE a.usename = r.rolname)
       FROM pg_authid r WHERE r.rolname IN (${logins.map((login) => `'${login}'`).join(', ')});\n`,
  );
  const states = new Map<string, LoginState>();
  for (const line of output.split('\n').filter((row) => row.includes('|'))) {
    const [name, hasPassword, limit, sessions] = line.split('|');
    states.set(name, { hasPassword: hasPassword === 't', connectionLimit: Number(limit), sessions: Number(sessions) });
  }
  const missing = logins.filter((login) => !states.has(login));
  if (missing.length > 0) {
    throw new RotationError(
      `role ${missing.join(' and ')} does not exist in PostgreSQL: apply the current dist/ (its migrations and monitoring-role Jobs create the logins) and run this again`,
      EXIT.couldNotCheck,
    );
  }
  return states;
}

/** Every copy of the Secret, which must exist and agree; and the login they name. */
function secretCopies(cluster: RotationCluster, secret: SecretContract): { copies: Map<string, Record<string, string>>; login: string } {
  const rotation = secret.rotation!;
  const copies = new Map<string, Record<string, string>>();
  for (const namespace of secret.namespaces) {
    const data = cluster.readSecret(secret.name, namespace);
    if (!data?.password) throw new RotationError(`secret ${secret.name} in namespace ${namespace} does not exist or has no password: run npm run secrets first`, EXIT.couldNotCheck);
    copies.set(namespace, data);
  }
  // A Secret made before the twins existed has no username (the monitoring Secret): it is the role's.
  const logins = new Set([...copies.values()].map((data) => data.username ?? rotation.role));
  const passwords = new Set([...copies.values()].map((data) => data.password));
  if (logins.size > 1 || passwords.size > 1) {
    throw new RotationError(
      `the copies of secret ${secret.name} (namespaces ${secret.namespaces.join(', ')}) disagree on username or password: ` +
        'make them equal (the one the pods use), then run this again',
      EXIT.couldNotCheck,
    );
  }
  const [login] = logins;
  if (login !== rotation.role && login !== rotation.twin) {
    throw new RotationError(`secret ${secret.name} names login ${login}, which is neither ${rotation.role} nor ${rotation.twin}`, EXIT.couldNotCheck);
  }
  return { copies, login };
}

/**
 * A SCRAM-SHA-256 verifier of the password (RFC 5802/7677, PostgreSQL's format `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`,
 * src/common/scram-common.c). ALTER ROLE ... PASSWORD takes it as is, so the password itself never reaches the
 * server, its logs or the pod: only what the server would have stored. Our passwords are ASCII (base64url),
 * which SASLprep leaves unchanged.
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

// The statements carry a verifier: keep them out of the server log whatever its settings.
const QUIET = 'SET log_statement = none; SET log_min_error_statement = panic; SET log_min_duration_statement = -1;\n';

export function rotate(cluster: RotationCluster, secret: SecretContract, print: (line: string) => void): void {
  const rotation = secret.rotation!;
  const { copies, login: current } = secretCopies(cluster, secret);
  const next = current === rotation.role ? rotation.twin : rotation.role;
  const states = loginStates(cluster, [rotation.role, rotation.twin]);
  if (states.get(next)!.hasPassword) {
    throw new RotationError(
      `the previous rotation of ${rotation.name} is not finished: ${next} still has a password, and pods may still log in with it. ` +
        `Once every reader has restarted, run npm run secrets -- --finish ${rotation.name}, then rotate again`,
      EXIT.preflight,
    );
  }
  // The new login serves the same pods as the current one: the same CONNECTION LIMIT.
  const limit = states.get(current)!.connectionLimit;
  const generated = generateSecretValues(secret);
  try {
    cluster.psql(`${QUIET}ALTER ROLE "${next}" LOGIN CONNECTION LIMIT ${limit} PASSWORD '${scramVerifier(generated.password)}';\n`);
  } catch (error) {
    throw new RotationError(`setting the password of ${next} failed, nothing changed: ${(error as Error).message}`, EXIT.apply);
  }
  print(`password: ${next} has a new password (CONNECTION LIMIT ${limit}); ${current} keeps its own until --finish`);
  const values = secret.render(generated, next);
  // Rounded up to the second: Kubernetes reports start times in whole seconds, so a pod that started in the
  // same second as the rotation counts as started before it (refusing is the safe side).
  const rotatedAt = new Date(Math.ceil(Date.now() / 1000) * 1000).toISOString();
  const updated: string[] = [];
  for (const [namespace, data] of copies) {
    try {
      replaceSecret(cluster, secret.name, namespace, { ...data, ...values }, { [ROTATED_AT_ANNOTATION]: rotatedAt });
    } catch (error) {
      throw new RotationError(
        `updating secret ${secret.name} in ${namespace} failed (${(error as Error).message}); ` +
          `${updated.length > 0 ? `the copies in ${updated.join(', ')} already name ${next}; ` : ''}` +
          `both ${current} and ${next} work, so no client is locked out: fix the cause, then copy the values of an updated copy by hand ` +
          `(or run npm run secrets -- --finish ${rotation.name} only once every copy names ${next})`,
        EXIT.apply,
      );
    }
    updated.push(namespace);
    print(`updated: secret ${secret.name} in ${namespace} (username ${next}, keys ${Object.keys(values).join(', ')})`);
  }
  print('');
  print(`Restart what read the old values at its start (${current} keeps working for them until then):`);
  for (const line of restartCommands(cluster, secret.name, rotation.restart)) print(`  ${line}`);
  print('Jobs read the Secret when they start: their next run uses the new login.');
  print(`Then, once those rollouts are complete: npm run secrets -- --finish ${rotation.name}`);
}

export function finish(cluster: RotationCluster, secret: SecretContract, print: (line: string) => void): void {
  const rotation = secret.rotation!;
  const { login: current } = secretCopies(cluster, secret);
  const old = current === rotation.role ? rotation.twin : rotation.role;
  const state = loginStates(cluster, [rotation.role, rotation.twin]).get(old)!;
  if (!state.hasPassword && state.connectionLimit === 0) {
    print(`nothing to finish: ${old} has no password and CONNECTION LIMIT 0; the Secret names ${current}`);
    return;
  }
  const stale = podsStartedBefore(cluster, secret, rotation.restart);
  if (stale.length > 0) {
    // A pod whose pool is idle holds no session, yet it still has the old password and is refused at its next connect.
    throw new RotationError(
      `${stale.length} pod(s) that read secret ${secret.name} at their start have run since before the rotation, so they still hold ${old}'s password:\n` +
        `${stale.map((line) => `  ${line}`).join('\n')}\nrestart them (see the lines --rotate printed), then run this again. Nothing was changed`,
      EXIT.preflight,
    );
  }
  if (state.sessions > 0) {
    const who = cluster.psql(
      `SELECT client || ': ' || count(*) FROM (
         SELECT coalesce(nullif(application_name, ''), '(no application_name)') || ' from ' || coalesce(host(client_addr), 'local') AS client
           FROM pg_stat_activity WHERE usename = '${old}') AS sessions
       GROUP BY client ORDER BY client;\n`,
    );
    throw new RotationError(
      `${old} still has ${state.sessions} session(s), so some client has not restarted onto ${current} yet:\n` +
        `${who.trim().replace(/^/gm, '  ')}\nrestart it (see the lines --rotate printed), then run this again. Nothing was changed`,
      EXIT.preflight,
    );
  }
  try {
    cluster.psql(`${QUIET}ALTER ROLE "${old}" PASSWORD NULL CONNECTION LIMIT 0;\n`);
  } catch (error) {
    throw new RotationError(`removing the password of ${old} failed, nothing changed: ${(error as Error).message}`, EXIT.apply);
  }
  print(`finished: ${old} has no password and CONNECTION LIMIT 0 (it logs in no more); ${current} is the login in use`);
}

/** Replaces a Secret's data, keeping its metadata; on stdin, so that no value is on a command line. */
function replaceSecret(cluster: RotationCluster, name: string, namespace: string, data: Record<string, string>, addedAnnotations: Record<string, string>): void {
  const live = JSON.parse(cluster.kubectl(['get', 'secret', name, '-n', namespace, '-o', 'json'])) as { metadata: Record<string, unknown>; type?: string };
  const { labels, annotations, resourceVersion } = live.metadata as { labels?: object; annotations?: object; resourceVersion: string };
  // resourceVersion: a concurrent change makes the replace fail (409) rather than be overwritten.
  const metadata = { name, namespace, labels, annotations: { ...annotations, ...addedAnnotations }, resourceVersion };
  const manifest = { apiVersion: 'v1', kind: 'Secret', metadata, type: live.type ?? 'Opaque', stringData: data };
  cluster.kubectl(['replace', '-f', '-'], JSON.stringify(manifest));
}

interface Workload {
  kind: string;
  metadata: { name: string };
  spec: { template: { metadata?: { annotations?: Record<string, string> }; spec: PodSpec } };
}

interface Pod {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: PodSpec;
  status?: { phase?: string; startTime?: string; containerStatuses?: { name: string; state?: { running?: { startedAt?: string } } }[] };
}

interface PodSpec {
  containers?: ContainerSpec[];
  initContainers?: ContainerSpec[];
  volumes?: { secret?: { secretName?: string }; projected?: { sources?: { secret?: { name?: string } }[] } }[];
}

interface ContainerSpec {
  env?: { valueFrom?: { secretKeyRef?: { name?: string } } }[];
  envFrom?: { secretRef?: { name?: string } }[];
}

function referencesSecret(pod: PodSpec, name: string): boolean {
  const containers = [...(pod.containers ?? []), ...(pod.initContainers ?? [])];
  return (
    containers.some(
      (container) => container.env?.some((entry) => entry.valueFrom?.secretKeyRef?.name === name) || container.envFrom?.some((source) => source.secretRef?.name === name),
    ) || (pod.volumes ?? []).some((volume) => volume.secret?.secretName === name || volume.projected?.sources?.some((source) => source.secret?.name === name))
  );
}

/** Whether a pod (template) is one the rule says reads the Secret at its start. */
function readsAtStart(rule: RestartRule, annotations: Record<string, string> | undefined, pod: PodSpec, secretName: string): boolean {
  return rule.kind === 'dapr-sidecars' ? annotations?.['dapr.io/enabled'] === 'true' : referencesSecret(pod, secretName);
}

/**
 * The running pods that read the Secret at their start and whose containers started before --rotate changed it
 * (the Secret's rotated-at annotation): they hold the old login's password. A container restarted since then
 * has read the new value; so the oldest running container of the pod decides. Without the annotation (a
 * rotation by an older version, or by hand) there is nothing to compare with, and only the sessions are checked.
 */
function podsStartedBefore(cluster: RotationCluster, secret: SecretContract, rule: RestartRule): string[] {
  const { namespace } = rule;
  const live = JSON.parse(cluster.kubectl(['get', 'secret', secret.name, '-n', namespace, '-o', 'json'])) as { metadata: { annotations?: Record<string, string> } };
  const rotatedAt = Date.parse(live.metadata.annotations?.[ROTATED_AT_ANNOTATION] ?? '');
  if (Number.isNaN(rotatedAt)) return [];
  const pods = (JSON.parse(cluster.kubectl(['get', 'pods', '-n', namespace, '-o', 'json'])) as { items: Pod[] }).items;
  return pods
    .filter((pod) => pod.status?.phase === 'Running' && readsAtStart(rule, pod.metadata.annotations, pod.spec, secret.name))
    .flatMap((pod) => {
      const started = (pod.status?.containerStatuses ?? []).map((container) => container.state?.running?.startedAt).filter((at) => at !== undefined);
      const oldest = Math.min(...(started.length > 0 ? started : [pod.status?.startTime ?? '']).map((at) => Date.parse(at)));
      if (!Number.isNaN(oldest) && oldest >= rotatedAt) return [];
      const since = Number.isNaN(oldest) ? 'start time unknown' : `running since ${new Date(oldest).toISOString()}`;
      return [`pod ${pod.metadata.name} in ${namespace} (${since}; rotated at ${new Date(rotatedAt).toISOString()})`];
    });
}

/**
 * The `kubectl rollout restart` lines for the live workloads that read the Secret once, at start: env vars
 * from a Secret are resolved when the container starts (Kubernetes docs, "Secrets": "environment variables
 * are not updated"), and Dapr resolves a component's secretKeyRef when the sidecar loads it, at its start.
 */
function restartCommands(cluster: RotationCluster, secretName: string, rule: RestartRule): string[] {
  const k = `kubectl -n ${rule.namespace}`;
  if (rule.kind === 'deployment') return [`${k} rollout restart deployment/${rule.name} && ${k} rollout status deployment/${rule.name}`];
  const items = (JSON.parse(cluster.kubectl(['get', 'deployments,statefulsets,daemonsets', '-n', rule.namespace, '-o', 'json'])) as { items: Workload[] }).items;
  const readers = items.filter((item) => readsAtStart(rule, item.spec.template.metadata?.annotations, item.spec.template.spec, secretName));
  const what = rule.kind === 'dapr-sidecars' ? 'Dapr-enabled workload (annotation dapr.io/enabled)' : `workload referencing secret ${secretName}`;
  if (readers.length === 0) return [`(no ${what} in ${rule.namespace} now: restart whatever reads it, if anything does)`];
  return readers.map((item) => {
    const ref = `${item.kind.toLowerCase()}/${item.metadata.name}`;
    return `${k} rollout restart ${ref} && ${k} rollout status ${ref}`;
  });
}
