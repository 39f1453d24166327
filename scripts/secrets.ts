import { X509Certificate } from 'node:crypto';
import { Command } from 'commander';
import { ConfigError, loadConfig } from '../lib/config/load';
import { KAFKA_CA_SECRET } from '../lib/config/kafka-security';
import { POSTGRES_CA_SECRET } from '../lib/config/postgres-security';
import { EXIT, type ExitCode, exitCodeHelp, parseArguments } from '../lib/exit-codes';
import { LearnflowStack } from '../lib/learnflow-stack';
import type { PostgresServer } from '../lib/postgres/postgres-server';
import { generateSecretValues, type SecretContract } from '../lib/postgres/secrets';
import { Kubectl } from './kubectl';
import { finish, psqlInServerPod, RotationError, rotate, rotationTarget } from './rotate';

const program = new Command('secrets')
  .description(
    'Create the Secrets the manifests reference, with random values, in the current kubectl context. ' +
      'Never overwrites an existing Secret and never prints a value. With --rotate, rotate a role\'s password without downtime.',
  )
  .option('-p, --profile <name>', 'configuration profile: minikube or production', 'minikube')
  .option('-c, --config <file>', 'YAML file merged over the profile')
  .option('--context <name>', 'kubectl context to use (default: the current one)')
  .option('--dry-run', 'only report which Secrets are missing')
  .option('--rotate <role>', 'give the idle login of a role (app, dapr or monitoring) a new password and switch its Secret to it; prints what to restart')
  .option('--finish <role>', 'after the restarts: remove the old login\'s password (refused while it has sessions)')
  .addHelpText('after', `\n${exitCodeHelp('secrets')}`)
  .showHelpAfterError();

interface Options {
  readonly profile: string;
  readonly config?: string;
  readonly context?: string;
  readonly dryRun?: boolean;
  readonly rotate?: string;
  readonly finish?: string;
}

/** kubectl or the cluster failed: before anything was created (could not check), or while creating (apply). */
class KubectlError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.couldNotCheck,
  ) {
    super(message);
  }
}

// Bounded like every kubectl call of the operator commands: a hung API server must not hang us.
const KUBECTL_TIMEOUT_MS = 30_000;

function kubectl(options: Options, args: readonly string[], input?: string): string {
  const result = new Kubectl(options.context).run(args, KUBECTL_TIMEOUT_MS, input);
  if (!result.ok) throw new KubectlError(`kubectl ${args.slice(0, 3).join(' ')} failed: ${result.reason}`, ['create', 'replace'].includes(args[0]) ? EXIT.apply : EXIT.couldNotCheck);
  return result.stdout;
}

/** The decoded data of a Secret, or undefined when it does not exist. */
function readSecret(options: Options, name: string, namespace: string): Record<string, string> | undefined {
  const output = kubectl(options, ['get', 'secret', name, '-n', namespace, '-o', 'json', '--ignore-not-found']);
  if (output.trim() === '') return undefined;
  const data = (JSON.parse(output) as { data?: Record<string, string> }).data ?? {};
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
}

/**
 * The generated values for the missing copies: taken from an existing copy, so that every namespace
 * holds the same password, or fresh random ones when there is none.
 */
function valuesFor(secret: SecretContract, existing: ReadonlyMap<string, Record<string, string>>): Record<string, string> {
  for (const [namespace, data] of existing) {
    const missing = secret.generatedKeys.filter((key) => !data[key]);
    if (missing.length > 0) {
      throw new KubectlError(
        `secret ${secret.name} in namespace ${namespace} has no key ${missing.join(', ')}: fix it, or delete it to have it created`,
      );
    }
    return Object.fromEntries(secret.generatedKeys.map((key) => [key, data[key]]));
  }
  return generateSecretValues(secret);
}

/**
 * An existing Secret keeps every value it has. The one key added to the contract since Secrets were first
 * created, the monitoring Secret's username (the login in use, for rotation), is added to a Secret without it:
 * the exporter and the monitoring-role Job read it.
 */
function completeSecret(options: Options, secret: SecretContract, namespace: string, data: Record<string, string>): void {
  const values = secret.render(Object.fromEntries(secret.generatedKeys.map((key) => [key, data[key]])));
  const added = secret.rotation && values.username !== undefined && data.username === undefined ? ['username'] : [];
  if (added.length === 0 || secret.generatedKeys.some((key) => !data[key])) {
    console.log(`exists:  secret ${secret.name} in ${namespace} (left unchanged)`);
    return;
  }
  if (options.dryRun) {
    console.log(`incomplete: secret ${secret.name} in ${namespace} (would add keys ${added.join(', ')})`);
    return;
  }
  const live = JSON.parse(kubectl(options, ['get', 'secret', secret.name, '-n', namespace, '-o', 'json'])) as { metadata: Record<string, unknown> };
  const { labels, annotations, resourceVersion } = live.metadata;
  const manifest = { apiVersion: 'v1', kind: 'Secret', metadata: { name: secret.name, namespace, labels, annotations, resourceVersion }, type: 'Opaque', stringData: { ...data, ...Object.fromEntries(added.map((key) => [key, values[key]])) } };
  kubectl(options, ['replace', '-f', '-'], JSON.stringify(manifest));
  console.log(`updated: secret ${secret.name} in ${namespace} (added keys ${added.join(', ')}; existing values unchanged)`);
}

function ensureSecret(options: Options, secret: SecretContract): void {
  const existing = new Map<string, Record<string, string>>();
  for (const namespace of secret.namespaces) {
    const data = readSecret(options, secret.name, namespace);
    if (data) existing.set(namespace, data);
  }
  const missing = secret.namespaces.filter((namespace) => !existing.has(namespace));
  for (const [namespace, data] of existing) completeSecret(options, secret, namespace, data);
  if (missing.length === 0) return;
  const [login] = [...existing.values()].map((data) => data.username);
  const values = secret.render(valuesFor(secret, existing), login);
  for (const namespace of missing) {
    if (options.dryRun) {
      console.log(`missing: secret ${secret.name} in ${namespace} (keys ${Object.keys(values).join(', ')})`);
      continue;
    }
    const manifest = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secret.name, namespace, labels: { 'app.kubernetes.io/part-of': 'learnflow', 'app.kubernetes.io/managed-by': 'learnflow-secrets' } },
      type: 'Opaque',
      stringData: values,
    };
    // On stdin, so that no value is ever on a command line (visible in ps) or in a file; `create`
    // fails rather than overwrite if someone created the Secret in the meantime.
    kubectl(options, ['create', '-f', '-'], JSON.stringify(manifest));
    const copied = existing.size > 0 ? `, password copied from ${[...existing.keys()][0]}` : '';
    console.log(`created: secret ${secret.name} in ${namespace} (keys ${Object.keys(values).join(', ')}${copied})`);
  }
}

/** A copy of a CA (key ca.crt of an issued certificate's Secret) for the services of the apps namespace. */
interface CaCopy {
  /** The copy's name, in `namespace`. */
  readonly name: string;
  readonly namespace: string;
  /** The certificate Secret whose ca.crt is copied. */
  readonly source: { readonly secretName: string; readonly namespace: string };
}

/**
 * The CA copies: with PostgreSQL's TLS on, learnflow-postgres-ca (the services and their Dapr sidecars verify the
 * server); with kafka.security on, learnflow-kafka-ca (the Dapr pub/sub components verify the brokers).
 */
function caCopies(stack: LearnflowStack): CaCopy[] {
  const { postgres, kafkaUsers } = stack;
  return [
    ...(postgres.tls.secretName ? [{ name: POSTGRES_CA_SECRET, namespace: postgres.appsNamespace, source: { secretName: postgres.tls.secretName, namespace: postgres.namespace } }] : []),
    ...(kafkaUsers ? [{ name: KAFKA_CA_SECRET, namespace: kafkaUsers.appsNamespace, source: kafkaUsers.caSource }] : []),
  ];
}

/** The SHA-256 fingerprints of the PEM certificates in `pem` (text that does not parse counts as none). */
function fingerprints(pem: string): Set<string> {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return new Set(
    blocks.flatMap((block) => {
      try {
        return [new X509Certificate(block).fingerprint256];
      } catch {
        return [];
      }
    }),
  );
}

/** Whether the bundle `bundle` holds every certificate of `wanted` (compared as certificates, not as text: CRLF, order). */
function holdsEvery(bundle: string, wanted: string): boolean {
  const have = fingerprints(bundle);
  const need = fingerprints(wanted);
  return need.size > 0 ? [...need].every((fingerprint) => have.has(fingerprint)) : bundle.includes(wanted.trim());
}

/**
 * A copy of the CA of an issued certificate in the apps namespace. Issued certificates are not ours to generate:
 * until the certificate Secret exists (cert-manager writes it once its Certificate is applied) the copy is
 * reported pending, and a later run makes it. An existing copy that holds the current CA (alone or in a bundle)
 * is left as it is; one that does not is replaced.
 */
function ensureCaCopy(options: Options, copy: CaCopy): void {
  const { secretName, namespace } = copy.source;
  const where = `secret ${copy.name} in ${copy.namespace}`;
  const existing = readSecret(options, copy.name, copy.namespace);
  const ca = readSecret(options, secretName, namespace)?.['ca.crt'];
  if (existing && (!ca || holdsEvery(existing['ca.crt'] ?? '', ca))) {
    console.log(`exists:  ${where} (left unchanged)`);
    return;
  }
  if (!ca) {
    console.log(`pending: ${where}: secret ${secretName} in ${namespace} has no ca.crt yet; run npm run secrets again once its certificate is issued`);
    return;
  }
  // A copy without the CA that issued the current certificate makes its readers refuse the servers: the CA was
  // replaced (cert-manager re-issued every certificate from the new one), so the old copy is of no use.
  const stale = existing ? ` (it lacked the CA of secret ${secretName} in ${namespace}, which changed; readers take the new one when they restart)` : '';
  if (options.dryRun) {
    console.log(existing ? `stale:   ${where}${stale}` : `missing: ${where} (keys ca.crt)`);
    return;
  }
  const manifest = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: copy.name, namespace: copy.namespace, labels: { 'app.kubernetes.io/part-of': 'learnflow', 'app.kubernetes.io/managed-by': 'learnflow-secrets' } },
    type: 'Opaque',
    stringData: { 'ca.crt': ca },
  };
  kubectl(options, [existing ? 'replace' : 'create', '-f', '-'], JSON.stringify(manifest));
  console.log(existing ? `updated: ${where}${stale}` : `created: ${where} (keys ca.crt, copied from secret ${secretName} in ${namespace})`);
}

const MANAGED_BY = 'app.kubernetes.io/managed-by=learnflow-secrets';

/**
 * The Secrets this command made that the configuration no longer names (an app-id removed from dapr.appIds leaves
 * its Kafka credential behind, in both namespaces): reported with the command that deletes them, never deleted,
 * since a pod of the old configuration may still read one. A cluster that does not let us list them is reported too.
 */
function reportOrphans(options: Options, secrets: readonly SecretContract[], copies: readonly CaCopy[]): void {
  const wanted = new Set([...secrets.flatMap((secret) => secret.namespaces.map((namespace) => `${namespace}/${secret.name}`)), ...copies.map((copy) => `${copy.namespace}/${copy.name}`)]);
  const namespaces = [...new Set([...wanted].map((key) => key.split('/')[0]))];
  for (const namespace of namespaces) {
    let names: string[];
    try {
      const output = kubectl(options, ['get', 'secrets', '-n', namespace, '-l', MANAGED_BY, '-o', 'json']);
      names = ((JSON.parse(output) as { items?: { metadata: { name: string } }[] }).items ?? []).map((item) => item.metadata.name);
    } catch (error) {
      console.log(`notice:  could not list the Secrets of ${namespace} made by npm run secrets, to find those no longer needed: ${(error as Error).message}`);
      continue;
    }
    for (const name of names.filter((candidate) => !wanted.has(`${namespace}/${candidate}`)).sort()) {
      console.log(
        `orphan:  secret ${name} in ${namespace} (made by npm run secrets, named by no part of this configuration: a removed app-id's credential?); ` +
          `left in place: once nothing reads it, \`kubectl -n ${namespace} delete secret ${name}\``,
      );
    }
  }
}

/** --rotate or --finish: one role, nothing else of the contract touched. */
function rotation(options: Options, server: PostgresServer, secrets: readonly SecretContract[]): number {
  try {
    if (options.rotate !== undefined && options.finish !== undefined) throw new RotationError('--rotate and --finish: give one of them', EXIT.usage);
    if (options.dryRun) throw new RotationError('--dry-run applies to creating Secrets, not to --rotate or --finish', EXIT.usage);
    const flag = options.rotate !== undefined ? '--rotate' : '--finish';
    const target = rotationTarget(secrets, (options.rotate ?? options.finish)!, flag);
    const cluster = {
      kubectl: (args: readonly string[], input?: string) => kubectl(options, args, input),
      psql: (script: string) => {
        const result = new Kubectl(options.context).run(psqlInServerPod(server), KUBECTL_TIMEOUT_MS, script);
        if (!result.ok) throw new KubectlError(`psql in pod ${server.statefulSetName}-0 (kubectl exec) failed: ${result.reason}`);
        return result.stdout;
      },
      readSecret: (name: string, namespace: string) => readSecret(options, name, namespace),
    };
    const print = (line: string) => console.log(line);
    if (options.rotate !== undefined) rotate(cluster, target, print);
    else finish(cluster, target, print);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof RotationError || error instanceof KubectlError) {
      console.error(`error: ${error.message}`);
      return error.exitCode;
    }
    throw error;
  }
}

function main(): number {
  const parsed = parseArguments(program);
  if (parsed !== undefined) return parsed;
  const options = program.opts<Options>();
  let secrets: readonly SecretContract[];
  let server: PostgresServer;
  let copies: CaCopy[];
  try {
    const stack = new LearnflowStack(loadConfig({ profile: options.profile, overrideFile: options.config }));
    server = stack.postgres;
    secrets = stack.secretContracts;
    copies = caCopies(stack);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return error instanceof ConfigError ? EXIT.usage : EXIT.couldNotCheck;
  }
  if (options.rotate !== undefined || options.finish !== undefined) return rotation(options, server, secrets);
  try {
    const namespaces = [...new Set(secrets.flatMap((secret) => secret.namespaces))];
    for (const namespace of namespaces) {
      if (kubectl(options, ['get', 'namespace', namespace, '-o', 'name', '--ignore-not-found']).trim() === '') {
        throw new KubectlError(`namespace ${namespace} does not exist: run \`kubectl apply -f dist/00-namespaces.yaml\` first`);
      }
    }
    for (const secret of secrets) ensureSecret(options, secret);
    for (const copy of copies) ensureCaCopy(options, copy);
    reportOrphans(options, secrets, copies);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof KubectlError) {
      console.error(`error: ${error.message}`);
      return error.exitCode;
    }
    throw error;
  }
}

try {
  process.exitCode = main();
} catch (error) {
  // Some Secrets may have been created: the code of a change that stopped part-way (re-running is safe).
  console.error(`error: secrets failed unexpectedly: ${(error as Error).stack ?? error}`);
  process.exitCode = EXIT.apply;
}
