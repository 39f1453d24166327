import { VERIFY_CREDENTIALS_SECRET, VERIFY_PRINCIPAL } from '../../lib/config/kafka-principals';
import type { Dist } from '../dist';
import { envValue, kafkaBrokerStatefulSets, kafkaContainer, namespaceOf, secretKeyOfFile } from '../workloads';
import { kafkaPortForwards } from './endpoints-document';

/** The brokers' listener that the verifier reaches (the one `kubectl port-forward` serves), as dist/ configures it. */
export interface KafkaClientListener {
  readonly name: string;
  /** Its security protocol: PLAINTEXT, SASL_SSL, ... */
  readonly protocol: string;
  /** The brokers' namespace: the verifier's credentials Secret is there. */
  readonly namespace: string;
  /** The Secret key of the CA the brokers trust (the file of KAFKA_SSL_TRUSTSTORE_LOCATION), which issued their certificates. */
  readonly caSecret?: { readonly name: string; readonly key: string };
}

/**
 * The listener of the first broker StatefulSet that the port-forwards of dist/'s endpoints document reach (their
 * remote port), else the one named EXTERNAL (the listener synth advertises at localhost for port-forwards).
 */
export function kafkaClientListenerOf(dist: Dist): KafkaClientListener | undefined {
  const forwardedPorts = kafkaPortForwards(dist).map((forward) => forward.command.at(-1)?.split(':')[1]);
  for (const item of kafkaBrokerStatefulSets(dist)) {
    const container = kafkaContainer(item);
    const listeners = (envValue(container, 'KAFKA_LISTENERS') ?? '').split(',').map((listener) => /^\s*([^:]+):\/\/[^:]*:(\d+)/.exec(listener)).filter((m) => m !== null);
    const listener = listeners.find((m) => forwardedPorts.includes(m[2])) ?? listeners.find((m) => m[1] === 'EXTERNAL');
    if (!listener) continue;
    const name = listener[1];
    const protocols = new Map((envValue(container, 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP') ?? '').split(',').map((pair) => pair.split(':').map((part) => part.trim()) as [string, string]));
    const truststore = envValue(container, 'KAFKA_SSL_TRUSTSTORE_LOCATION');
    const caSecret = truststore ? secretKeyOfFile(item.object.spec?.template?.spec ?? {}, container, truststore) : undefined;
    return { name, protocol: protocols.get(name) ?? name, namespace: namespaceOf(item), ...(caSecret ? { caSecret } : {}) };
  }
  return undefined;
}

/** The verifier's SCRAM credentials and the CA it verifies the brokers with; `from` says where each came from (never a value). */
export interface KafkaCredentials {
  readonly username: string;
  readonly password: string;
  /** PEM. @default - Node's trust store (a CA the system trusts) */
  readonly ca?: string;
  readonly passwordFrom: string;
  readonly caFrom: string;
}

/**
 * How the verifier connects: in the clear; with SCRAM-SHA-512 over TLS; or not at all, when the brokers ask for
 * credentials the verifier was not given (the reason says what to pass).
 */
export type KafkaAuth =
  | { readonly kind: 'plaintext' }
  | { readonly kind: 'scram'; readonly credentials: KafkaCredentials; readonly tls: boolean }
  | { readonly kind: 'missing'; readonly reason: string };

export const PLAINTEXT: KafkaAuth = { kind: 'plaintext' };

/** What the command line gave: --kafka-user, the content of --kafka-password-file and of --kafka-ca-file. */
export interface GivenKafkaCredentials {
  readonly user?: string;
  readonly password?: string;
  readonly ca?: string;
}

/** Whether the listener asks for SCRAM; credentials given on the command line are used whatever dist/ says. */
export function needsScram(listener: KafkaClientListener | undefined, given: GivenKafkaCredentials): boolean {
  return given.password !== undefined || (listener?.protocol.startsWith('SASL_') ?? false);
}

/** Over TLS unless dist/ says SASL_PLAINTEXT (credentials given for a listener dist/ calls PLAINTEXT: the brokers were secured since). */
const overTls = (listener: KafkaClientListener | undefined) => listener?.protocol !== 'SASL_PLAINTEXT';

/** The command to read the verifier's password, for the remediation of a missing one. */
export function passwordHint(namespace = 'kafka'): string {
  return `--kafka-password-file <(kubectl -n ${namespace} get secret ${VERIFY_CREDENTIALS_SECRET} -o jsonpath='{.data.password}' | base64 -d)`;
}

/** --kafka-brokers: the credentials of the command line, or "missing" when dist/'s listener asks for some. */
export function givenKafkaAuth(listener: KafkaClientListener | undefined, given: GivenKafkaCredentials): KafkaAuth {
  if (!needsScram(listener, given)) return PLAINTEXT;
  if (given.password === undefined) {
    return {
      kind: 'missing',
      reason:
        `dist/ says the brokers' listener ${listener!.name} is ${listener!.protocol}: pass the password of ${given.user ?? VERIFY_PRINCIPAL} with ` +
        `${passwordHint(listener!.namespace)} and the brokers' CA with --kafka-ca-file (or use --live, which reads both Secrets)`,
    };
  }
  return {
    kind: 'scram',
    tls: overTls(listener),
    credentials: {
      username: given.user ?? VERIFY_PRINCIPAL,
      password: given.password,
      ...(given.ca !== undefined ? { ca: given.ca } : {}),
      passwordFrom: '--kafka-password-file',
      caFrom: given.ca !== undefined ? '--kafka-ca-file' : "the system's trust store (no --kafka-ca-file)",
    },
  };
}

/**
 * --live: what the command line did not give, read from the cluster: the user and password from the Secret
 * learnflow-kafka-verify (keys username, password) in the brokers' namespace, the CA from the brokers' own
 * certificate Secret (kafka.security.secretName, key ca.crt). A Secret that cannot be read makes the Kafka
 * checks "could not check" with the reason; PostgreSQL is still checked.
 */
export async function clusterKafkaAuth(
  listener: KafkaClientListener | undefined,
  given: GivenKafkaCredentials,
  readSecretKey: (namespace: string, name: string, key: string) => Promise<string>,
): Promise<KafkaAuth> {
  if (!needsScram(listener, given)) return PLAINTEXT;
  const namespace = listener?.namespace ?? 'kafka';
  const fromSecret = `Secret ${namespace}/${VERIFY_CREDENTIALS_SECRET}`;
  try {
    const [username, password, ca] = await Promise.all([
      given.password !== undefined ? (given.user ?? VERIFY_PRINCIPAL) : (given.user ?? readSecretKey(namespace, VERIFY_CREDENTIALS_SECRET, 'username')),
      given.password ?? readSecretKey(namespace, VERIFY_CREDENTIALS_SECRET, 'password'),
      given.ca ?? (listener?.caSecret ? readSecretKey(namespace, listener.caSecret.name, listener.caSecret.key) : undefined),
    ]);
    const caFrom = given.ca !== undefined ? '--kafka-ca-file' : listener?.caSecret ? `Secret ${namespace}/${listener.caSecret.name}` : "the system's trust store";
    return {
      kind: 'scram',
      tls: overTls(listener),
      credentials: { username, password, ...(ca !== undefined ? { ca } : {}), passwordFrom: given.password !== undefined ? '--kafka-password-file' : fromSecret, caFrom },
    };
  } catch (error) {
    return { kind: 'missing', reason: `${(error as Error).message} (npm run secrets creates ${VERIFY_CREDENTIALS_SECRET}; or pass ${passwordHint(namespace)} and --kafka-ca-file)` };
  }
}
