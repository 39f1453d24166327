import type { PostgresServer } from './postgres-server';

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
  ];
}
