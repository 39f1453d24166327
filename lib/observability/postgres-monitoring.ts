import { Construct } from 'constructs';
import { rotationTwin } from '../config/postgres';
import type { ObservabilityConfig, PostgresConfig } from '../config/schema';
import * as k8s from '../platform/k8s';
import { IntOrString } from '../platform/k8s';
import { appLabels, selectorLabels } from '../platform/labels';
import { resourceRequirements, restrictedContainerSecurityContext, restrictedPodSecurityContext, writableVolumes } from '../platform/pod-security';
import { readProjectFile } from '../platform/project-files';
import type { PostgresServer } from '../postgres/postgres-server';
import { POSTGRES_CLIENT_LABEL, ScriptJob } from '../postgres/script-job';
import { SUPERUSER } from '../postgres/secrets';

/** postgres_exporter's default port (--web.listen-address :9187). */
export const POSTGRES_EXPORTER_PORT = 9187;
// The postgres-exporter image runs as nobody (its Dockerfile: USER nobody).
const EXPORTER_UID = 65534;
const PASSWORD_DIR = '/etc/postgres-exporter';
const CA_DIR = '/etc/postgres-exporter-ca';

/** The exporter Deployment of the server named `serverName`. */
export function exporterDeploymentName(serverName: string): string {
  return `${serverName}-exporter`;
}

export interface PostgresMonitoringProps {
  readonly server: PostgresServer;
  readonly postgres: PostgresConfig;
  readonly observability: ObservabilityConfig;
  readonly argoCdHooks: boolean;
}

/**
 * prometheus-community's postgres_exporter as a Deployment beside the server, logging in as a role that
 * is only a member of pg_monitor, its password a file of the monitoring Secret (DATA_SOURCE_PASS_FILE);
 * and the Job that creates that role. The exporter's pods carry the PostgreSQL client label, which the
 * server's NetworkPolicy admits.
 */
export class PostgresMonitoring extends Construct {
  public readonly podSelector: Record<string, string>;
  public readonly portName = 'metrics';
  public readonly port = POSTGRES_EXPORTER_PORT;
  public readonly deploymentName: string;

  constructor(scope: Construct, id: string, props: PostgresMonitoringProps) {
    super(scope, id);
    const { server, postgres } = props;
    const { postgresExporter } = props.observability;
    const monitoringSecret = server.secrets.monitoring;
    if (!monitoringSecret) throw new Error('the PostgreSQL Secret contract has no monitoring Secret: pass monitoring to PostgresServer');

    new ScriptJob(this, 'RoleJob', {
      server,
      config: postgres,
      component: 'monitor',
      script: 'monitoring-role.sh',
      files: [
        { path: 'monitoring-role.sh', content: readProjectFile('lib/observability/monitoring-role.sh') },
        { path: 'monitoring-role.sql', content: readProjectFile('lib/observability/monitoring-role.sql') },
      ],
      env: [
        { name: 'PGHOST', value: server.host },
        { name: 'PGPORT', value: String(server.port) },
        { name: 'PGUSER', value: SUPERUSER },
        { name: 'MONITOR_ROLE', value: postgresExporter.role },
        { name: 'MONITOR_ROLE_TWIN', value: rotationTwin(postgresExporter.role) },
        { name: 'WAIT_TIMEOUT_SECONDS', value: String(postgres.jobs.waitTimeoutSeconds) },
      ],
      passwordFiles: [
        { path: 'login-password', secretName: server.secrets.superuser.name, key: 'password' },
        { path: 'monitor-role-username', secretName: monitoringSecret.name, key: 'username' },
        { path: 'monitor-role-password', secretName: monitoringSecret.name, key: 'password' },
      ],
      argoCdHooks: props.argoCdHooks,
    });

    this.deploymentName = exporterDeploymentName(postgres.name);
    this.podSelector = selectorLabels(this.deploymentName, 'metrics');
    const labels = { ...appLabels(this.deploymentName, 'metrics'), [POSTGRES_CLIENT_LABEL]: 'true' };
    const writable = writableVolumes([]);
    const port = IntOrString.fromString(this.portName);
    // Ready when its HTTP server answers; alive while the port accepts connections. A PostgreSQL outage is
    // pg_up 0 in the scrape (the PostgresDown alert), never a restart of the exporter.
    const timing = { timeoutSeconds: 5, failureThreshold: 3 };
    // With TLS on, the exporter verifies the server as every client does: the CA of the certificate Secret
    // (ca.crt only) and the host name (verify-full). postgres_exporter connects through lib/pq, which reads
    // sslmode and sslrootcert from the URI (github.com/lib/pq, ssl.go). pg_hba admits it with hostssl only.
    const { secretName: tlsSecret } = server.tls;
    const sslParameters = tlsSecret ? `sslmode=verify-full&sslrootcert=${CA_DIR}/ca.crt` : 'sslmode=disable';
    const caVolumes: k8s.Volume[] = tlsSecret ? [{ name: 'ca', secret: { secretName: tlsSecret, items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o444 } }] : [];
    const caMounts: k8s.VolumeMount[] = tlsSecret ? [{ name: 'ca', mountPath: CA_DIR, readOnly: true }] : [];
    new k8s.KubeDeployment(this, 'Exporter', {
      metadata: { name: this.deploymentName, namespace: server.namespace, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: this.podSelector },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: restrictedPodSecurityContext({ uid: EXPORTER_UID, gid: EXPORTER_UID }),
            containers: [
              {
                name: 'postgres-exporter',
                image: postgresExporter.image,
                imagePullPolicy: 'IfNotPresent',
                args: [`--web.listen-address=:${POSTGRES_EXPORTER_PORT}`],
                env: [
                  // The 'postgres' database: every view it reads (pg_stat_activity, pg_stat_database, pg_settings,
                  // database sizes) is cluster-wide, and the role gets no CONNECT on the application database.
                  { name: 'DATA_SOURCE_URI', value: `${server.host}:${server.port}/postgres?${sslParameters}` },
                  // The login in use (the role or its twin after `npm run secrets -- --rotate monitoring`), read at start.
                  { name: 'DATA_SOURCE_USER_FILE', value: `${PASSWORD_DIR}/username` },
                  { name: 'DATA_SOURCE_PASS_FILE', value: `${PASSWORD_DIR}/password` },
                ],
                ports: [{ name: this.portName, containerPort: POSTGRES_EXPORTER_PORT }],
                resources: resourceRequirements(postgresExporter.resources, writable),
                securityContext: restrictedContainerSecurityContext(),
                readinessProbe: { httpGet: { path: '/', port }, periodSeconds: 10, ...timing },
                livenessProbe: { tcpSocket: { port }, periodSeconds: 30, ...timing },
                volumeMounts: [{ name: 'password', mountPath: PASSWORD_DIR, readOnly: true }, ...caMounts],
              },
            ],
            volumes: [
              {
                name: 'password',
                secret: {
                  secretName: monitoringSecret.name,
                  items: [
                    { key: 'username', path: 'username' },
                    { key: 'password', path: 'password' },
                  ],
                  defaultMode: 0o440,
                },
              },
              ...caVolumes,
            ],
          },
        },
      },
    });
  }
}
