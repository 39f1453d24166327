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
import type { ServerSettings } from './server-settings';

/** Where the server's certificate Secret is mounted in the server container. */
export const TLS_MOUNT = '/etc/learnflow/postgres-tls';

/** Where clients (the services, the Dapr sidecars) mount the CA Secret of the apps namespace. */
export const CLIENT_CA_MOUNT = '/etc/learnflow/postgres-ca';
export const CLIENT_CA_FILE = `${CLIENT_CA_MOUNT}/ca.crt`;

export interface PostgresTlsProps {
  readonly config: PostgresConfig;
  readonly namespace: string;
  /** The names the server answers to: the certificate's DNS names, which verify-full checks. */
  readonly dnsNames: readonly string[];
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
