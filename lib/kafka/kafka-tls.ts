import { Construct } from 'constructs';
import {
  Certificate,
  CertificateSpecPrivateKeyAlgorithm,
  CertificateSpecPrivateKeyEncoding,
  CertificateSpecPrivateKeyRotationPolicy,
  CertificateSpecUsages,
} from '../../imports/cert-manager-certificate-cert-manager.io';
import type { KafkaConfig } from '../config/schema';
import { certificateIssuer } from '../platform/certificates';
import type { SecretFile } from '../platform/hashed-job';
import { SECRETS_MOUNT } from '../platform/hashed-job';
import type * as k8s from '../platform/k8s';
import { appLabels } from '../platform/labels';
import { resourceRequirements, restrictedContainerSecurityContext, type WritablePath, writableVolumes } from '../platform/pod-security';
import { readProjectFile } from '../platform/project-files';

/** Where the nodes' certificate Secret (tls.crt, tls.key, ca.crt) is mounted in the Kafka container. */
export const NODE_TLS_MOUNT = '/etc/kafka/tls';
/**
 * Kafka reads a PEM keystore as one file holding the private key and its chain (ssl.keystore.type=PEM,
 * KIP-651; DefaultSslEngineFactory.FileBasedPemStore); cert-manager writes them apart, so the container joins
 * them at start into this RAM-backed emptyDir (the key never touches the node's disk).
 */
const NODE_KEYSTORE_DIR = '/var/run/kafka-keystore';
const NODE_KEYSTORE = `${NODE_KEYSTORE_DIR}/keystore.pem`;
const CLIENT_KEYSTORE_DIR = '/var/run/kafka-client';

/** How often the tls-reload sidecar compares the mounted certificate with the keystore the node loaded. */
export const TLS_RELOAD_INTERVAL_SECONDS = 60;
/** How long one of its Kafka tool runs may take (a JVM start on a throttled CPU, then one admin request). */
const TLS_RELOAD_TOOL_TIMEOUT_SECONDS = 90;

/** What the tls-reload sidecar of one set of nodes needs to know about them. */
export interface TlsReloadTarget {
  readonly image: string;
  /** node.id = base + the pod's ordinal. */
  readonly nodeIdBase: number;
  /** The node's own certificate listener, as kafka-configs.sh options: `--bootstrap-server <host:port>` or `--bootstrap-controller <host:port>`. */
  readonly bootstrap: string;
  /** The node's TLS listeners (SSL and SASL_SSL). */
  readonly listeners: readonly string[];
}

/** SCRAM-SHA-512 on the client listeners: the only mechanism enabled. */
export const SASL_MECHANISM = 'SCRAM-SHA-512';

export interface KafkaTlsProps {
  readonly config: KafkaConfig;
  readonly namespace: string;
  /** The names clients reach the nodes by: the certificate's DNS names, which TLS clients verify. */
  readonly dnsNames: readonly string[];
  /** The names the workloads of dist/ check today (each pod, the Services' full names, localhost): what the user's node certificate must cover. */
  readonly hostNames: readonly string[];
}

/**
 * ssl.principal.mapping.rules' pattern: Kafka matches it against the peer's subject in RFC 2253 form (the most
 * specific attribute first, X500Principal.getName(), DefaultKafkaPrincipalBuilder); its group 1 is the principal's
 * name, and a subject it does not match is the principal as a whole (DEFAULT).
 */
export const CERTIFICATE_PRINCIPAL_PATTERN = '^CN=([^,]+).*$';

/**
 * Kafka's TLS and authentication (kafka.security): the certificates (cert-manager Certificates, or the user's
 * Secrets), the nodes' ssl and sasl settings, and what an admin Job needs to connect. The listeners
 * themselves (which protocol each speaks) are KafkaCluster's. Adds nothing when security is off.
 *
 * Principals: a client of a SASL listener is `User:<SCRAM user>`; a TLS client-certificate peer is `User:<its
 * certificate's CN>` (ssl.principal.mapping.rules), so the nodes are `User:<kafka.name>-node` and the admin
 * Jobs `User:<kafka.name>-admin`.
 */
export class KafkaTls extends Construct {
  public readonly enabled: boolean;
  /** The nodes' certificate Secret. */
  public readonly secretName?: string;
  /** The admin Jobs' certificate Secret. */
  public readonly adminSecretName?: string;
  /** The principals with every right (super.users): the nodes' and the admin Jobs' certificates. */
  public get superUsers(): readonly string[] {
    return [`User:${this.nodeCommonName}`, `User:${this.adminCommonName}`];
  }
  /** The nodes' cert-manager Certificate and how long before its expiry it is renewed (source cert-manager only). */
  public get certificate(): { readonly name: string; readonly renewBeforeSeconds: number } | undefined {
    if (!this.enabled || this.source !== 'cert-manager') return undefined;
    return { name: this.nodeCertificateName, renewBeforeSeconds: Number.parseInt(this.validity.renewBefore, 10) * 3600 };
  }
  /** The names the workloads of dist/ check against the nodes' certificate today (each pod, the Services' full names, localhost). */
  public readonly hostNames: readonly string[];
  /** Subject common names of the two certificates, which are also the principals' names. */
  public readonly nodeCommonName: string;
  public readonly adminCommonName: string;
  private readonly namespace: string;
  private readonly source: KafkaConfig['security']['source'];
  private readonly validity: { readonly duration: string; readonly renewBefore: string };
  private readonly nodeCertificateName: string;
  private readonly adminCertificateName: string;

  constructor(scope: Construct, id: string, props: KafkaTlsProps) {
    super(scope, id);
    const { config, namespace } = props;
    const { security } = config;
    this.enabled = security.enabled;
    this.nodeCommonName = `${config.name}-node`;
    this.adminCommonName = `${config.name}-admin`;
    this.hostNames = props.hostNames;
    this.namespace = namespace;
    this.source = security.source;
    this.nodeCertificateName = `${config.name}-node`;
    this.adminCertificateName = `${config.name}-admin`;
    this.validity = { duration: security.certificateDuration, renewBefore: security.renewBefore };
    if (!security.enabled) return;
    this.secretName = security.secretName;
    this.adminSecretName = security.adminSecretName;
    if (security.source !== 'cert-manager') return;
    const labels = appLabels(config.name, 'tls');
    const issuerRef = certificateIssuer(this, { name: config.name, namespace, labels, issuer: security.issuer });
    // Kafka's PEM parser takes only PKCS#8 keys ("BEGIN PRIVATE KEY"); cert-manager writes SEC1 for ECDSA by default.
    const privateKey = {
      algorithm: CertificateSpecPrivateKeyAlgorithm.ECDSA,
      size: 256,
      encoding: CertificateSpecPrivateKeyEncoding.PKCS8,
      rotationPolicy: CertificateSpecPrivateKeyRotationPolicy.ALWAYS,
    };
    new Certificate(this, 'Nodes', {
      metadata: { name: this.nodeCertificateName, namespace, labels },
      spec: {
        secretName: security.secretName,
        commonName: this.nodeCommonName,
        ...this.validity,
        dnsNames: [...props.dnsNames],
        // Server for its listeners, client towards the other brokers and the voters.
        usages: [CertificateSpecUsages.SERVER_AUTH, CertificateSpecUsages.CLIENT_AUTH, CertificateSpecUsages.DIGITAL_SIGNATURE],
        privateKey,
        issuerRef,
      },
    });
    new Certificate(this, 'Admin', {
      metadata: { name: this.adminCertificateName, namespace, labels },
      spec: {
        secretName: security.adminSecretName,
        commonName: this.adminCommonName,
        ...this.validity,
        usages: [CertificateSpecUsages.CLIENT_AUTH, CertificateSpecUsages.DIGITAL_SIGNATURE],
        privateKey,
        issuerRef,
      },
    });
  }

  /** The security lines of the Kafka endpoints section: listeners, principals and the certificate Secrets (never a value). */
  endpointLines(nodeReaders: readonly string[], adminBootstrapServers: string): string[] {
    if (!this.enabled) return ['security: none (PLAINTEXT listeners, no authentication)'];
    const writer = (certificate: string) =>
      this.source === 'cert-manager' ? `cert-manager (Certificate ${certificate})` : 'you, before deploying (kubectl create secret generic ... --from-file; PKCS#8 key)';
    return [
      `security: clients SASL_SSL with ${SASL_MECHANISM} (TLS verified against the CA); voters, replication and the admin Jobs (${adminBootstrapServers}) TLS client certificates`,
      `principals: User:${this.nodeCommonName} (the nodes' certificate), User:${this.adminCommonName} (the admin Jobs' certificate), User:<SCRAM user> (clients)`,
      '',
      '### Kafka TLS',
      `${this.secretName}  (namespaces: ${this.namespace})`,
      '  keys:    tls.crt, tls.key, ca.crt',
      `  writer:  ${writer(this.nodeCertificateName)}`,
      `  readers: ${nodeReaders.join(', ')}`,
      `${this.adminSecretName}  (namespaces: ${this.namespace})`,
      '  keys:    tls.crt, tls.key, ca.crt',
      `  writer:  ${writer(this.adminCertificateName)}`,
      '  readers: the topics, rebalance, features and users Jobs',
    ];
  }

  /** The nodes' TLS settings as the image's KAFKA_* variables (server.properties through KafkaDockerWrapper). */
  nodeEnv(): k8s.EnvVar[] {
    if (!this.enabled) return [];
    return [
      // Not KAFKA_*: the image would turn it into a broker property.
      { name: 'TLS_DIR', value: NODE_TLS_MOUNT },
      { name: 'KAFKA_SSL_KEYSTORE_TYPE', value: 'PEM' },
      { name: 'KAFKA_SSL_KEYSTORE_LOCATION', value: NODE_KEYSTORE },
      { name: 'KAFKA_SSL_TRUSTSTORE_TYPE', value: 'PEM' },
      { name: 'KAFKA_SSL_TRUSTSTORE_LOCATION', value: `${NODE_TLS_MOUNT}/ca.crt` },
      // The peer's certificate subject `CN=<name>[,...]` is the principal `<name>`.
      { name: 'KAFKA_SSL_PRINCIPAL_MAPPING_RULES', value: `RULE:${CERTIFICATE_PRINCIPAL_PATTERN}/$1/,DEFAULT` },
      { name: 'KAFKA_SASL_ENABLED_MECHANISMS', value: SASL_MECHANISM },
      // Every request is authorized against the ACLs in the metadata log, on the brokers and on the voters
      // (KRaft's controllers authorize the brokers' registrations and heartbeats and each other's requests:
      // StandardAuthorizer, KIP-801); without an ACL a request is refused. Only the nodes' and the admin Jobs'
      // certificates are super users; every SCRAM user has the rights the users Job gives it, no more.
      { name: 'KAFKA_AUTHORIZER_CLASS_NAME', value: 'org.apache.kafka.metadata.authorizer.StandardAuthorizer' },
      { name: 'KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND', value: 'false' },
      { name: 'KAFKA_SUPER_USERS', value: this.superUsers.join(';') },
    ];
  }

  /** Bash lines of the Kafka container's command, before the launcher: the PEM keystore Kafka reads. */
  nodeScript(): string[] {
    if (!this.enabled) return [];
    return ['(umask 077 && cat "$TLS_DIR/tls.key" "$TLS_DIR/tls.crt" >"$KAFKA_SSL_KEYSTORE_LOCATION")'];
  }

  nodeVolumes(): { readonly volumes: k8s.Volume[]; readonly mounts: k8s.VolumeMount[]; readonly writablePaths: WritablePath[] } {
    if (!this.enabled) return { volumes: [], mounts: [], writablePaths: [] };
    return {
      // Group-readable: the files belong to root with the pod's fsGroup (the image's appuser group).
      volumes: [{ name: 'tls', secret: { secretName: this.secretName, defaultMode: 0o440, items: ['tls.crt', 'tls.key', 'ca.crt'].map((key) => ({ key, path: key })) } }],
      mounts: [{ name: 'tls', mountPath: NODE_TLS_MOUNT, readOnly: true }],
      writablePaths: [{ name: 'keystore', mountPath: NODE_KEYSTORE_DIR, memory: true, sizeLimit: '1Mi' }],
    };
  }

  /**
   * The tls-reload sidecar (tls-reload.sh) of a node's pod: the node re-reads its keystore only when told to, so a
   * renewed certificate is joined into the shared keystore volume and the node has its listeners reload it.
   */
  reloadSidecars(target: TlsReloadTarget): k8s.Container[] {
    if (!this.enabled) return [];
    const { mounts } = this.nodeVolumes();
    // Its logs only: it writes to the keystore volume, which the Kafka container accounts for.
    const writable = writableVolumes([]);
    return [
      {
        name: 'tls-reload',
        image: target.image,
        imagePullPolicy: 'IfNotPresent',
        command: ['/bin/bash', '-c', readProjectFile('lib/kafka/tls-reload.sh')],
        env: [
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'POD_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } } },
          { name: 'TLS_DIR', value: NODE_TLS_MOUNT },
          { name: 'KAFKA_SSL_KEYSTORE_LOCATION', value: NODE_KEYSTORE },
          { name: 'TLS_RELOAD_INTERVAL', value: String(TLS_RELOAD_INTERVAL_SECONDS) },
          { name: 'TLS_RELOAD_TOOL_TIMEOUT', value: String(TLS_RELOAD_TOOL_TIMEOUT_SECONDS) },
          { name: 'TLS_RELOAD_STATE', value: NODE_KEYSTORE_DIR },
          { name: 'TLS_RELOAD_BOOTSTRAP', value: target.bootstrap },
          { name: 'TLS_RELOAD_NODE_ID_BASE', value: String(target.nodeIdBase) },
          { name: 'TLS_RELOAD_LISTENERS', value: target.listeners.map((listener) => listener.toLowerCase()).join(' ') },
          // kafka-run-class.sh creates LOG_DIR; the tool logs to stderr only.
          { name: 'LOG_DIR', value: NODE_KEYSTORE_DIR },
          // One short client JVM per renewal: small heap, no JIT beyond C1, serial GC, no perf data file (read-only root).
          { name: 'KAFKA_HEAP_OPTS', value: '-Xmx48m -Xms48m' },
          { name: 'KAFKA_JVM_PERFORMANCE_OPTS', value: '-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xss512k -Djava.awt.headless=true' },
        ],
        // Idle but for a JVM run per renewal: the memory is that run's, the CPU limit lets it start in seconds.
        resources: resourceRequirements({ requests: { cpu: '5m', memory: '192Mi' }, limits: { cpu: '500m', memory: '192Mi' } }, writable),
        securityContext: restrictedContainerSecurityContext(),
        // Ready once its loop has gone round; alive while it keeps going round (a tool run is bounded).
        readinessProbe: { exec: { command: ['/bin/bash', '-c', '[[ -s $TLS_RELOAD_STATE/tls-reload.alive ]]'] }, periodSeconds: 10, timeoutSeconds: 5 },
        livenessProbe: {
          exec: {
            command: [
              '/bin/bash',
              '-c',
              `read -r beat <"$TLS_RELOAD_STATE/tls-reload.alive" && ((\${EPOCHREALTIME%.*} - \${beat%.*} < ${2 * TLS_RELOAD_INTERVAL_SECONDS + 3 * TLS_RELOAD_TOOL_TIMEOUT_SECONDS}))`,
            ],
          },
          periodSeconds: 30,
          timeoutSeconds: 5,
          failureThreshold: 3,
        },
        volumeMounts: [...mounts, { name: 'keystore', mountPath: NODE_KEYSTORE_DIR }],
      },
    ];
  }

  /**
   * What an admin Job adds to run Kafka's tools over the TLS client-certificate listener: the admin Secret's
   * files, a RAM-backed directory for the joined keystore, client-tls.sh (beside the Job's script in its
   * ConfigMap) and the variables it reads.
   */
  adminClient(): { readonly env: k8s.EnvVar[]; readonly secretFiles: SecretFile[]; readonly writablePaths: WritablePath[]; readonly files: Record<string, string> } {
    if (!this.enabled || !this.adminSecretName) return { env: [], secretFiles: [], writablePaths: [], files: {} };
    const secretName = this.adminSecretName;
    return {
      env: [
        { name: 'KAFKA_CLIENT_TLS_DIR', value: `${SECRETS_MOUNT}/kafka-admin` },
        { name: 'KAFKA_CLIENT_KEYSTORE', value: `${CLIENT_KEYSTORE_DIR}/keystore.pem` },
      ],
      secretFiles: ['tls.crt', 'tls.key', 'ca.crt'].map((key) => ({ secretName, key, path: `kafka-admin/${key}` })),
      writablePaths: [{ name: 'client-tls', mountPath: CLIENT_KEYSTORE_DIR, memory: true, sizeLimit: '1Mi' }],
      files: { 'client-tls.sh': readProjectFile('lib/kafka/client-tls.sh') },
    };
  }
}
