import { Construct } from 'constructs';
import { postgresObjectNames, serviceHost } from '../config/object-names';
import { POSTGRES_CA_SECRET } from '../config/postgres-security';
import type { PostgresConfig } from '../config/schema';
import { contentHash } from '../platform/content-hash';
import { type EndpointsSection, type ExposesEndpoints, portForwardLine } from '../platform/endpoints';
import * as k8s from '../platform/k8s';
import { IntOrString, Quantity } from '../platform/k8s';
import { appLabels, selectorLabels } from '../platform/labels';
import {
  resourceRequirements,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  writableVolumes,
} from '../platform/pod-security';
import { readProjectFile } from '../platform/project-files';
import { DataStatefulSet, dataVolumeClaimTemplate } from '../platform/storage';
import { BACKUP_MOUNT, SERVER_FILES_MOUNT } from './backup-layout';
import { hbaFile } from './pg-hba';
import { PostgresSecrets, SUPERUSER, secretContractLines } from './secrets';
import { serverSettings, sharedMemorySizeMiB } from './server-settings';
import { CLIENT_CA_FILE, PostgresTls } from './tls';

export const POSTGRES_PORT = 5432;
/** The local port of the documented `kubectl port-forward`: 10000 above the server's, clear of a PostgreSQL on the workstation. */
export const POSTGRES_PORT_FORWARD_PORT = 10_000 + POSTGRES_PORT;

// The Debian variant of the official image runs as postgres, uid/gid 999 (research/pg-dapr.md §1.2).
export const POSTGRES_UID = 999;

// The PVC is mounted one level above PGDATA: initdb refuses a non-empty directory (ext4's
// lost+found) and PostgreSQL a data directory whose mode fsGroup has changed; the subdirectory is
// created by the entrypoint with mode 0700.
const DATA_MOUNT = '/var/lib/postgresql/data';
const PGDATA = `${DATA_MOUNT}/pgdata`;
const SUPERUSER_SECRET_MOUNT = '/etc/learnflow/postgres-superuser';

export interface PostgresServerProps {
  readonly namespace: string;
  /** Namespace of the LearnFlow services, which get copies of the role Secrets. */
  readonly appsNamespace: string;
  readonly config: PostgresConfig;
  /** The cluster's DNS domain, in the server's host name. */
  readonly clusterDomain: string;
  /**
   * Whether the seed Job creates the test users, which adds their Secret to the contract.
   * @default false
   */
  readonly seedTestUsers?: boolean;
  /** The monitoring role postgres_exporter logs in as and its Deployment, which add its Secret to the contract. @default - none */
  readonly monitoring?: { readonly role: string; readonly exporterDeployment: string };
}

/**
 * PostgreSQL 16 on a single-replica StatefulSet with a retained PVC, the stock image's entrypoint
 * and settings sized from the memory limit, plus its Services and disruption budget.
 */
export class PostgresServer extends Construct implements ExposesEndpoints {
  /** In-cluster host name of the client Service. */
  public readonly host: string;
  public readonly port = POSTGRES_PORT;
  public readonly portForwardPort = POSTGRES_PORT_FORWARD_PORT;
  public readonly database: string;
  public readonly namespace: string;
  /** Namespace of the LearnFlow services. */
  public readonly appsNamespace: string;
  public readonly serviceName: string;
  public readonly headlessServiceName: string;
  public readonly statefulSetName: string;
  public readonly image: string;
  /** Roles the migrations Job creates (application, owner, Dapr state store). */
  public readonly appRole: string;
  public readonly ownerRole: string;
  public readonly daprRole: string;
  /** Schema owned by daprRole, where Dapr's state.postgresql v2 creates its tables. */
  public readonly daprSchema: string;
  /** Labels that select the server pod (for NetworkPolicies and the PodDisruptionBudget). */
  public readonly podSelector: Record<string, string>;
  /** The Secret contract: names, keys and readers. */
  public readonly secrets: PostgresSecrets;
  /** The server's certificate and pg_hba (nothing when postgres.tls.enabled is false). */
  public readonly tls: PostgresTls;
  /** The backup volume's claim, which the server's archive_command and the backup Jobs write to. @default - none: backups are off */
  public readonly backupClaimName?: string;

  constructor(scope: Construct, id: string, props: PostgresServerProps) {
    super(scope, id);
    const { config, namespace } = props;
    this.namespace = namespace;
    this.appsNamespace = props.appsNamespace;
    this.database = config.database;
    this.image = config.image;
    this.appRole = config.appRole;
    this.ownerRole = config.ownerRole;
    this.daprRole = config.daprRole;
    this.daprSchema = config.daprSchema;
    const names = postgresObjectNames(config.name);
    this.statefulSetName = names.statefulSet;
    this.serviceName = names.service;
    this.headlessServiceName = names.headlessService;
    this.host = serviceHost(this.serviceName, namespace, props.clusterDomain);
    this.podSelector = selectorLabels(config.name, 'database');
    this.secrets = new PostgresSecrets({
      config,
      postgresNamespace: namespace,
      appsNamespace: props.appsNamespace,
      host: this.host,
      port: this.port,
      seedTestUsers: props.seedTestUsers ?? false,
      monitoring: props.monitoring,
    });
    const labels = appLabels(config.name, 'database');
    const port = { name: 'postgresql', port: POSTGRES_PORT, targetPort: IntOrString.fromString('postgresql') };

    // Gives the pod its stable DNS name (the StatefulSet's serviceName).
    new k8s.KubeService(this, 'Headless', {
      metadata: { name: this.headlessServiceName, namespace, labels },
      spec: { clusterIp: 'None', selector: this.podSelector, ports: [port] },
    });

    new k8s.KubeService(this, 'Client', {
      metadata: { name: this.serviceName, namespace, labels },
      spec: { type: 'ClusterIP', selector: this.podSelector, ports: [port] },
    });

    const writable = writableVolumes([
      // Unix socket and its lock file; the image creates the directory at build time only.
      { name: 'run', mountPath: '/var/run/postgresql', sizeLimit: '16Mi' },
      // The entrypoint's here-documents and mktemp (docker-library/postgres#154).
      { name: 'tmp', mountPath: '/tmp', sizeLimit: '256Mi' },
      // The container runtime's default /dev/shm is 64 MB, too small for parallel queries.
      { name: 'shm', mountPath: '/dev/shm', memory: true, sizeLimit: `${sharedMemorySizeMiB(config)}Mi` },
    ]);

    this.tls = new PostgresTls(this, 'Tls', {
      config,
      namespace,
      socket: writable.mounts.find((mount) => mount.name === 'run')!,
      scratch: writable.mounts.find((mount) => mount.name === 'tmp')!,
      dnsNames: [
        this.host,
        `${this.serviceName}.${namespace}.svc`,
        `${this.serviceName}.${namespace}`,
        `${this.statefulSetName}-0.${serviceHost(this.headlessServiceName, namespace, props.clusterDomain)}`,
      ],
    });
    const backup = config.backup.enabled ? this.backupVolume(config, labels) : undefined;
    this.backupClaimName = backup?.claimName;
    const files = this.serverFiles(config, labels);

    const settings = [...serverSettings(config), ...this.tls.settings, ...(files?.settings ?? [])].flatMap(([name, value]) => ['-c', `${name}=${value}`]);
    // 127.0.0.1, not the socket: during first-start initialisation the entrypoint runs a temporary
    // server on the socket only, which must not count as started or ready.
    const acceptsConnections = ['pg_isready', '-q', '-h', '127.0.0.1', '-p', String(POSTGRES_PORT), '-U', SUPERUSER, '-d', 'postgres'];
    // pg_isready exits 0 when the server accepts connections, 1 when it answers but rejects them
    // (starting up, in crash recovery, shutting down), 2 when nothing answers (PostgreSQL docs, pg_isready).
    // Alive while the postmaster answers at all: a crash recovery replaying WAL for an hour is alive,
    // and a restart would only begin it again. Only a postmaster that stops answering is restarted.
    const postmasterAnswers = ['/bin/sh', '-c', `${acceptsConnections.join(' ')}; [ $? -le 1 ]`];

    new DataStatefulSet(this, 'Resource', {
      metadata: { name: this.statefulSetName, namespace, labels },
      spec: {
        serviceName: this.headlessServiceName,
        replicas: 1,
        updateStrategy: { type: 'RollingUpdate' },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        selector: { matchLabels: this.podSelector },
        template: {
          // A changed archive script or pg_hba.conf rolls the pod, so the server reads it.
          metadata: { labels, annotations: files ? { 'learnflow.dev/server-files-hash': files.hash } : undefined },
          spec: {
            // The Service named postgres would inject POSTGRES_PORT, POSTGRES_SERVICE_HOST, ... into
            // the POSTGRES_* variables the entrypoint reads.
            enableServiceLinks: false,
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext({ uid: POSTGRES_UID, gid: POSTGRES_UID }),
            // The image stops with SIGINT (fast shutdown: abort transactions, checkpoint, exit); its
            // Dockerfile warns that even 90 s may not be enough for the checkpoint on a busy server.
            terminationGracePeriodSeconds: 120,
            containers: [
              {
                name: 'postgres',
                image: config.image,
                imagePullPolicy: 'IfNotPresent',
                // The image's entrypoint sees 'postgres' first and initialises an empty PGDATA.
                args: ['postgres', ...settings],
                env: [
                  { name: 'PGDATA', value: PGDATA },
                  { name: 'POSTGRES_USER', value: SUPERUSER },
                  // Read on first start only: rotating the Secret later does not change the password.
                  { name: 'POSTGRES_PASSWORD_FILE', value: `${SUPERUSER_SECRET_MOUNT}/password` },
                  // Checksums detect storage corruption; huge_pages as for the server (see its settings).
                  { name: 'POSTGRES_INITDB_ARGS', value: '--data-checksums --set huge_pages=off' },
                ],
                ports: [{ name: 'postgresql', containerPort: POSTGRES_PORT }],
                resources: resourceRequirements(config.resources, writable),
                securityContext: restrictedContainerSecurityContext(),
                // The first start (initdb, then the entrypoint's socket-only server) answers nothing on
                // 127.0.0.1 for a while: liveness waits for the postmaster to answer, up to 10 minutes.
                startupProbe: execProbe(postmasterAnswers, { periodSeconds: 5, failureThreshold: 120 }),
                // Traffic only once connections are accepted, i.e. after any recovery.
                readinessProbe: execProbe(acceptsConnections, { periodSeconds: 10, failureThreshold: 3 }),
                livenessProbe: execProbe(postmasterAnswers, { periodSeconds: 20, failureThreshold: 6 }),
                volumeMounts: [
                  { name: 'data', mountPath: DATA_MOUNT },
                  { name: 'superuser', mountPath: SUPERUSER_SECRET_MOUNT, readOnly: true },
                  ...this.tls.mounts,
                  ...writable.mounts,
                  ...(files?.mounts ?? []),
                  ...(backup?.mounts ?? []),
                ],
              },
              ...this.tls.sidecars,
            ],
            volumes: [
              {
                name: 'superuser',
                // Group-readable: the files belong to root with the pod's fsGroup (999).
                secret: { secretName: this.secrets.superuser.name, defaultMode: 0o440, items: [{ key: 'password', path: 'password' }] },
              },
              ...this.tls.volumes,
              ...writable.volumes,
              ...(files?.volumes ?? []),
              ...(backup?.volumes ?? []),
            ],
          },
        },
        volumeClaimTemplates: [dataVolumeClaimTemplate(labels, config.storage)],
      },
    });

    new k8s.KubePodDisruptionBudget(this, 'Budget', {
      metadata: { name: config.name, namespace, labels },
      spec: {
        // A single instance: a drain or node upgrade takes it down for a restart (fast shutdown, then
        // recovery on the new node). minAvailable 1 would block every drain and managed upgrade forever.
        maxUnavailable: IntOrString.fromNumber(1),
        selector: { matchLabels: this.podSelector },
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    });
  }

  /** Where to connect, and the Secret contract (names, keys, who reads them; never a value). */
  endpoints(): EndpointsSection {
    return {
      heading: 'PostgreSQL',
      lines: [
        `host (in-cluster):  ${this.host}:${this.port}`,
        `port-forward:       ${portForwardLine(this.portForwardPort, this.namespace, `svc/${this.serviceName}`, this.port)}`,
        `database: ${this.database}`,
        `roles: ${this.appRole} (services: DML only), ${this.daprRole} (Dapr state store: owns schema ${this.daprSchema}), ${this.ownerRole} (owns the schema; NOLOGIN)`,
        '',
        '### Secrets (created by `npm run secrets`; values never appear in dist/)',
        ...secretContractLines(this.secrets.all),
        ...this.tlsEndpointLines(),
      ],
    };
  }

  /** Who mounts the server certificate Secret's ca.crt to verify the server (verify-full). */
  private caReaders(): string[] {
    return [
      'the migrations and seed Jobs',
      ...(this.secrets.backup ? ['the base backup and dump CronJobs'] : []),
      ...(this.secrets.monitoring ? ['the monitoring-role Job', 'postgres_exporter'] : []),
    ];
  }

  /** The TLS Secrets: not created by `npm run secrets` (a certificate is issued, not generated). */
  private tlsEndpointLines(): string[] {
    const { secretName, source } = this.tls;
    if (!secretName) return [];
    const writer = source === 'cert-manager' ? `cert-manager (Certificate ${this.statefulSetName})` : 'you, before deploying (kubectl create secret generic ... --from-file)';
    return [
      '',
      '### TLS (verify-full: clients check the CA and the host name)',
      `${secretName}  (namespaces: ${this.namespace})`,
      '  keys:    tls.crt, tls.key, ca.crt',
      `  writer:  ${writer}`,
      `  readers: StatefulSet ${this.statefulSetName} (tls.crt, tls.key); ${this.caReaders().join(', ')} (ca.crt)`,
      `${POSTGRES_CA_SECRET}  (namespaces: ${this.appsNamespace})`,
      '  keys:    ca.crt',
      `  writer:  \`npm run secrets\`, a copy of ${secretName}'s ca.crt once the certificate is issued (\`npm run deploy\` runs it again after applying)`,
      `  readers: the services and their Dapr sidecars, mounted at ${CLIENT_CA_FILE.replace(/\/ca\.crt$/, '')} (pod volume + annotation dapr.io/volume-mounts)`,
    ];
  }

  /**
   * The backup volume: a claim of its own, not a claim template (adding a template to a live StatefulSet
   * is a change the API refuses).
   */
  private backupVolume(config: PostgresConfig, labels: Record<string, string>) {
    const names = postgresObjectNames(config.name);
    const { storage } = config.backup;
    new k8s.KubePersistentVolumeClaim(this, 'BackupVolume', {
      metadata: {
        name: names.backupClaim,
        namespace: this.namespace,
        labels: { ...labels, 'app.kubernetes.io/component': 'backup' },
        // The backups must outlive the manifests: kubectl delete -f dist/, an Argo CD or Flux prune.
        annotations: {
          'argocd.argoproj.io/sync-options': 'Delete=false,Prune=false',
          'kustomize.toolkit.fluxcd.io/prune': 'disabled',
          'helm.sh/resource-policy': 'keep',
        },
      },
      spec: {
        accessModes: [storage.accessMode],
        storageClassName: storage.storageClassName,
        volumeMode: 'Filesystem',
        resources: { requests: { storage: Quantity.fromString(storage.size) } },
      },
    });
    return {
      claimName: names.backupClaim,
      volumes: [{ name: 'backup', persistentVolumeClaim: { claimName: names.backupClaim } }],
      mounts: [{ name: 'backup', mountPath: BACKUP_MOUNT }],
    };
  }

  /**
   * One ConfigMap of the server's own files, mounted once: our pg_hba.conf whenever TLS or backups are on
   * (hostssl with TLS; the backup role's replication line with backups), and the backup scripts. With
   * neither, the image's own pg_hba.conf applies and nothing is shipped.
   */
  private serverFiles(config: PostgresConfig, labels: Record<string, string>) {
    const { tls, backup } = config;
    if (!tls.enabled && !backup.enabled) return undefined;
    const names = postgresObjectNames(config.name);
    const files: Record<string, string> = {
      'pg_hba.conf': hbaFile({ ssl: tls.enabled, replicationRole: backup.enabled ? backup.role : undefined }),
      ...(backup.enabled
        ? { 'archive-wal.sh': readProjectFile('lib/postgres/archive-wal.sh'), 'restore-data.sh': readProjectFile('lib/postgres/restore-data.sh') }
        : {}),
    };
    new k8s.KubeConfigMap(this, 'ServerFiles', { metadata: { name: names.serverFiles, namespace: this.namespace, labels }, data: files });
    return {
      hash: contentHash(JSON.stringify(files)),
      settings: [['hba_file', `${SERVER_FILES_MOUNT}/pg_hba.conf`]] as const,
      volumes: [{ name: 'server-files', configMap: { name: names.serverFiles } }],
      mounts: [{ name: 'server-files', mountPath: SERVER_FILES_MOUNT, readOnly: true }],
    };
  }
}

function execProbe(command: string[], timing: { periodSeconds: number; failureThreshold: number }): k8s.Probe {
  return { exec: { command }, timeoutSeconds: 5, ...timing };
}
