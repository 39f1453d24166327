import { describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { backupRoleConnectionLimit, daprRoleConnectionLimit } from '../lib/config/postgres-security';
import { type BadConfigInput, describeBadConfig } from './support/bad-config';
import { findObject, synthObjects } from './support/synth';

// PostgreSQL's TLS and connection budget: one clear error each (field path, value, rule), exit 1, dist/ untouched.
const BAD_INPUTS: BadConfigInput[] = [
  {
    case: 'production with TLS turned off and no opt-out',
    profile: 'production',
    override: { postgres: { tls: { enabled: false } } },
    path: 'postgres.tls.enabled',
    rule: 'must be true in the production profile',
  },
  {
    case: 'an issuer for a user-provided Secret',
    profile: 'production',
    override: { postgres: { tls: { source: 'secret', issuer: { kind: 'ClusterIssuer', name: 'corp-ca' } } } },
    path: 'postgres.tls.issuer',
    rule: "applies only to source 'cert-manager'",
  },
  {
    case: 'an unknown certificate source',
    profile: 'production',
    override: { postgres: { tls: { source: 'vault' } } },
    path: 'postgres.tls.source',
    rule: 'must be one of cert-manager, secret (got "vault")',
  },
  {
    case: 'a certificate Secret name that is not a DNS-1123 subdomain',
    profile: 'production',
    override: { postgres: { tls: { source: 'secret', secretName: 'My_Cert' } } },
    path: 'postgres.tls.secretName',
    rule: 'DNS-1123 subdomain',
  },
  {
    case: "the services' pools beyond max_connections",
    profile: 'minikube',
    override: { postgres: { connectionLimits: { appRole: 40 } } },
    path: 'postgres.maxConnections',
    rule: 'must be at least 73: postgres.connectionLimits.appRole 40',
  },
  {
    case: "Dapr's pools beyond max_connections",
    profile: 'production',
    override: { dapr: { stateStore: { maxConns: 10 } } },
    path: 'postgres.maxConnections',
    rule: "the Dapr state store's 210 (dapr.stateStore.maxConns 10 x dapr.stateStore.maxReplicasPerAppId 3 x 7 dapr.appIds)",
  },
  {
    // 16 + 28 + 2 + 3 = 49 fits minikube's 50 without backups (see the test below); the backups' 2 do not.
    case: "the backups' connections beyond max_connections",
    profile: 'minikube',
    override: { postgres: { connectionLimits: { appRole: 16 }, backup: { enabled: true, dump: { enabled: true } } } },
    path: 'postgres.maxConnections',
    rule: 'must be at least 51: postgres.connectionLimits.appRole 16',
  },
];

describeBadConfig('PostgreSQL security configuration: bad input', BAD_INPUTS);

describe('PostgreSQL security configuration: what each choice synthesizes', () => {
  const server = (objects: ReturnType<typeof synthObjects>) => findObject(objects, 'StatefulSet', 'postgres').spec.template.spec;
  // PostgreSQL's own (production's Kafka has Certificates of its own in the kafka namespace).
  const kinds = (objects: ReturnType<typeof synthObjects>) =>
    objects.filter((o) => ['Certificate', 'Issuer'].includes(o.kind) && o.metadata.namespace === 'postgres').map((o) => `${o.kind}/${o.metadata.name}`);

  it('production: ssl on, our pg_hba, a Certificate from a self-signed CA by default, and clients on verify-full', () => {
    const objects = synthObjects({ profile: 'production' });
    const args: string[] = server(objects).containers[0].args;
    expect(args).toEqual(expect.arrayContaining(['ssl=on', 'hba_file=/etc/learnflow/postgres-server/pg_hba.conf', 'superuser_reserved_connections=3']));
    expect(kinds(objects)).toEqual(['Issuer/postgres-selfsigned', 'Certificate/postgres-ca', 'Issuer/postgres-ca', 'Certificate/postgres']);
    const certificate = findObject(objects, 'Certificate', 'postgres');
    expect(certificate.spec.dnsNames).toContain('postgres.postgres.svc.cluster.local');
    expect(certificate.spec.issuerRef).toEqual({ group: 'cert-manager.io', kind: 'Issuer', name: 'postgres-ca' });
    const hba = findObject(objects, 'ConfigMap', 'postgres-server-files').data?.['pg_hba.conf'] ?? '';
    // Every network line is hostssl with scram-sha-256: no 'host', no md5, no trust.
    const network = hba.split('\n').filter((line) => /^host/.test(line));
    expect(network.length).toBeGreaterThan(0);
    for (const line of network) expect(line).toMatch(/^hostssl\s.*\sscram-sha-256$/);
    expect(hba).not.toMatch(/\b(trust|md5|password)\b/);
    const job = findObject(objects, 'Job', /^postgres-migrations-/).spec.template.spec.containers[0];
    expect(job.env).toEqual(expect.arrayContaining([{ name: 'PGSSLMODE', value: 'verify-full' }]));
    const stateStore = findObject(objects, 'Component', 'statestore').spec.metadata;
    const config = loadConfig({ profile: 'production' });
    expect(stateStore).toContainEqual({ name: 'maxConns', value: String(config.dapr.stateStore.maxConns) });
    expect(daprRoleConnectionLimit(config.dapr)).toBe(config.dapr.stateStore.maxConns * config.dapr.stateStore.maxReplicasPerAppId * config.dapr.appIds.length);
  });

  it("an issuer of the config signs the server certificate, and no CA is created; a 'secret' source creates no cert-manager object", () => {
    const issued = synthObjects({ profile: 'production', override: { postgres: { tls: { issuer: { kind: 'ClusterIssuer', name: 'corp-ca' } } } } });
    expect(kinds(issued)).toEqual(['Certificate/postgres']);
    expect(findObject(issued, 'Certificate', 'postgres').spec.issuerRef).toEqual({ group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'corp-ca' });
    const provided = synthObjects({ profile: 'production', override: { postgres: { tls: { source: 'secret', secretName: 'corp-postgres-tls' } } } });
    expect(kinds(provided)).toEqual([]);
    expect(server(provided).volumes).toContainEqual(expect.objectContaining({ name: 'tls', secret: expect.objectContaining({ secretName: 'corp-postgres-tls' }) }));
  });

  it('the loud opt-out runs production without TLS; minikube is plaintext unless TLS is turned on', () => {
    const optOut = synthObjects({ profile: 'production', override: { postgres: { tls: { enabled: false, insecurePlaintextInProduction: true } } } });
    expect(server(optOut).containers[0].args).not.toContain('ssl=on');
    expect(kinds(optOut)).toEqual([]);
    expect(server(synthObjects()).containers[0].args).not.toContain('ssl=on');
    expect(server(synthObjects({ override: { postgres: { tls: { enabled: true } } } })).containers[0].args).toContain('ssl=on');
  });

  it("the backup role's CONNECTION LIMIT is its regular sessions (the base backup's size query, the dump), set by the migrations Job and counted in the budget", () => {
    const limitOf = (override: Record<string, unknown>) =>
      findObject(synthObjects({ override: { postgres: { backup: override } } }), 'Job', /^postgres-migrations-/).spec.template.spec.containers[0].env.find(
        (e: { name: string }) => e.name === 'BACKUP_CONNECTION_LIMIT',
      )?.value;
    expect(limitOf({ enabled: true })).toBe('1');
    expect(limitOf({ enabled: true, dump: { enabled: true } })).toBe('2');
    expect(limitOf({ enabled: false })).toBeUndefined();
    expect(backupRoleConnectionLimit(loadConfig({ profile: 'production' }).postgres.backup)).toBe(1);
    // The bad input above fails only for the backups: the same pools fit without them.
    expect(() => loadConfig({ override: { postgres: { connectionLimits: { appRole: 16 } } } })).not.toThrow();
  });
});
