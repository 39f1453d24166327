import { POSTGRES_CA_SECRET } from '../config/postgres-security';
import type { PostgresServer } from './postgres-server';
import { CLIENT_CA_FILE } from './tls';

/** The TLS Secrets: not created by `npm run secrets` (a certificate is issued, not generated). */
function tlsLines(server: PostgresServer): string[] {
  const { secretName, source } = server.tls;
  if (!secretName) return [];
  const writer = source === 'cert-manager' ? `cert-manager (Certificate ${server.statefulSetName})` : 'you, before deploying (kubectl create secret generic ... --from-file)';
  return [
    '### TLS (verify-full: clients check the CA and the host name)',
    `${secretName}  (namespaces: ${server.namespace})`,
    '  keys:    tls.crt, tls.key, ca.crt',
    `  writer:  ${writer}`,
    `  readers: StatefulSet ${server.statefulSetName} (tls.crt, tls.key); the migrations and seed Jobs (ca.crt)`,
    `${POSTGRES_CA_SECRET}  (namespaces: ${server.appsNamespace})`,
    '  keys:    ca.crt',
    `  writer:  \`npm run secrets\`, a copy of ${secretName}'s ca.crt once the certificate is issued (\`npm run deploy\` runs it again after applying)`,
    `  readers: the services and their Dapr sidecars, mounted at ${CLIENT_CA_FILE.replace(/\/ca\.crt$/, '')} (pod volume + annotation dapr.io/volume-mounts)`,
    '',
  ];
}

/** The PostgreSQL section of dist/infra-endpoints.txt: where to connect, and the Secret contract. */
export function postgresEndpointLines(server: PostgresServer): string[] {
  const localPort = 15432;
  return [
    '## PostgreSQL',
    `host (in-cluster):  ${server.host}:${server.port}`,
    `port-forward:       localhost:${localPort}    kubectl port-forward -n ${server.namespace} svc/${server.serviceName} ${localPort}:${server.port}`,
    `database: ${server.database}`,
    `roles: ${server.appRole} (services: DML only), ${server.daprRole} (Dapr state store: owns schema ${server.daprSchema}), ${server.ownerRole} (owns the schema; NOLOGIN)`,
    '',
    '### Secrets (created by `npm run secrets`; values never appear in dist/)',
    ...server.secrets.all.flatMap((secret) => [
      `${secret.name}  (namespaces: ${secret.namespaces.join(', ')})`,
      `  keys:    ${secret.keys.map((key) => key.key).join(', ')}`,
      `  readers: ${secret.readers.join('; ')}`,
    ]),
    '',
    ...tlsLines(server),
  ];
}
