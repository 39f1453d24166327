import { Construct } from 'constructs';
import {
  Certificate,
  CertificateSpecPrivateKeyAlgorithm,
  CertificateSpecPrivateKeyRotationPolicy,
  CertificateSpecUsages,
} from '../../imports/cert-manager-certificate-cert-manager.io';
import type { PostgresConfig } from '../config/schema';
import { certificateIssuer } from '../platform/certificates';
import type * as k8s from '../platform/k8s';
import { appLabels } from '../platform/labels';
import { resourceRequirements, restrictedContainerSecurityContext, writableVolumes } from '../platform/pod-security';
import { readProjectFile } from '../platform/project-files';
import type { ServerSettings } from './server-settings';

/** Where the server's certificate Secret is mounted in the server container. */
export const TLS_MOUNT = '/etc/learnflow/postgres-tls';

/** How often the tls-reload sidecar compares the mounted certificate with the one the server loaded. */
export const TLS_RELOAD_INTERVAL_SECONDS = 60;

/** Where clients (the services, the Dapr sidecars) mount the CA Secret of the apps namespace. */
export const CLIENT_CA_MOUNT = '/etc/learnflow/postgres-ca';
export const CLIENT_CA_FILE = `${CLIENT_CA_MOUNT}/ca.crt`;

export interface PostgresTlsProps {
  readonly config: PostgresConfig;
  readonly namespace: string;
  /** The names the server answers to: the certificate's DNS names, which verify-full checks. */
  readonly dnsNames: readonly string[];
  /** The server's Unix socket directory, as a volume the sidecar mounts too. */
  readonly socket: k8s.VolumeMount;
  /** The server's scratch directory (an emptyDir the server container accounts for), where the sidecar keeps its heartbeat. */
  readonly scratch: k8s.VolumeMount;
}

/**
 * The server side of PostgreSQL's TLS: the certificate (a cert-manager Certificate, or the user's Secret)
 * and the ssl settings. Adds nothing when TLS is off. The pg_hba.conf that admits network clients only over
 * TLS is the server's (pg-hba.ts, in the server-files ConfigMap).
 */
export class PostgresTls extends Construct {
  /** `-c` settings for the server: ssl and its files. */
  public readonly settings: ServerSettings;
  public readonly volumes: k8s.Volume[];
  public readonly mounts: k8s.VolumeMount[];
  /** The tls-reload sidecar and its volumes: the server re-reads a renewed certificate only on a reload. */
  public readonly sidecars: k8s.Container[];
  /** The Secret holding tls.crt, tls.key and ca.crt in the postgres namespace, when TLS is on. */
  public readonly secretName?: string;
  /** Who writes that Secret. */
  public readonly source: PostgresConfig['tls']['source'];

  constructor(scope: Construct, id: string, props: PostgresTlsProps) {
    super(scope, id);
    const { config, namespace } = props;
    const { tls } = config;
    this.source = tls.source;
    if (!tls.enabled) {
      this.settings = [];
      this.volumes = [];
      this.mounts = [];
      this.sidecars = [];
      return;
    }
    this.secretName = tls.secretName;
    const labels = appLabels(config.name, 'tls');
    if (tls.source === 'cert-manager') this.certificate(config, namespace, props.dnsNames, labels);
    this.settings = [
      ['ssl', 'on'],
      ['ssl_cert_file', `${TLS_MOUNT}/tls.crt`],
      ['ssl_key_file', `${TLS_MOUNT}/tls.key`],
      ['ssl_min_protocol_version', 'TLSv1.2'],
      // Stored verifiers are SCRAM (PostgreSQL 14+ default, pinned): an md5 hash could not log in under pg_hba's scram-sha-256.
      ['password_encryption', 'scram-sha-256'],
    ];
    this.volumes = [
      // The key is owned by root with the pod's group (fsGroup 999): PostgreSQL accepts a root-owned key
      // with group read and nothing for others (be-secure-common.c, check_ssl_key_file_permissions).
      { name: 'tls', secret: { secretName: tls.secretName, defaultMode: 0o440, items: ['tls.crt', 'tls.key'].map((key) => ({ key, path: key })) } },
    ];
    this.mounts = [{ name: 'tls', mountPath: TLS_MOUNT, readOnly: true }];
    // Its logs only: the volumes it writes to are the server container's, which accounts for them.
    const writable = writableVolumes([]);
    this.sidecars = [
      {
        name: 'tls-reload',
        image: config.image,
        imagePullPolicy: 'IfNotPresent',
        command: ['/bin/bash', '-c', readProjectFile('lib/postgres/tls-reload.sh')],
        env: [
          { name: 'TLS_DIR', value: TLS_MOUNT },
          { name: 'TLS_RELOAD_INTERVAL', value: String(TLS_RELOAD_INTERVAL_SECONDS) },
          { name: 'TLS_RELOAD_SOCKET', value: props.socket.mountPath },
          { name: 'TLS_RELOAD_STATE', value: props.scratch.mountPath },
        ],
        resources: resourceRequirements({ requests: { cpu: '5m', memory: '32Mi' }, limits: { cpu: '100m', memory: '32Mi' } }, writable),
        securityContext: restrictedContainerSecurityContext(),
        // Ready once its loop has gone round; alive while it keeps going round (a psql that never returns).
        readinessProbe: { exec: { command: ['/bin/bash', '-c', '[[ -s $TLS_RELOAD_STATE/tls-reload.alive ]]'] }, periodSeconds: 10, timeoutSeconds: 5 },
        livenessProbe: {
          exec: { command: ['/bin/bash', '-c', `read -r beat <"$TLS_RELOAD_STATE/tls-reload.alive" && ((\${EPOCHREALTIME%.*} - \${beat%.*} < ${3 * TLS_RELOAD_INTERVAL_SECONDS}))`] },
          periodSeconds: 30,
          timeoutSeconds: 5,
          failureThreshold: 3,
        },
        // Connecting to the socket needs no write access to its directory's mount (unix_find_bsd checks the
        // socket file's permission bits, not the mount's read-only flag).
        volumeMounts: [...this.mounts, { ...props.socket, readOnly: true }, props.scratch],
      },
    ];
  }

  /** The server Certificate, signed by the configured issuer or by a self-signed CA of the postgres namespace. */
  private certificate(config: PostgresConfig, namespace: string, dnsNames: readonly string[], labels: Record<string, string>): void {
    const issuerRef = certificateIssuer(this, { name: config.name, namespace, labels, issuer: config.tls.issuer });
    new Certificate(this, 'Server', {
      metadata: { name: config.name, namespace, labels },
      spec: {
        secretName: config.tls.secretName,
        dnsNames: [...dnsNames],
        usages: [CertificateSpecUsages.SERVER_AUTH, CertificateSpecUsages.DIGITAL_SIGNATURE],
        privateKey: { algorithm: CertificateSpecPrivateKeyAlgorithm.ECDSA, size: 256, rotationPolicy: CertificateSpecPrivateKeyRotationPolicy.ALWAYS },
        issuerRef,
      },
    });
  }
}
