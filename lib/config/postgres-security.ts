import { z } from 'zod';
import { certificateIssuer, certificateSource, checkCertificateIssuer } from './certificate-source';
import { dnsSubdomain } from './names';

// PostgreSQL's transport security and connection budget: the postgres.tls and postgres.connectionLimits
// settings, and the cross-field rules that need the profile and the Dapr settings.

export const postgresTls = z
  .object({
    /** ssl=on and a pg_hba that admits only hostssl with scram-sha-256. */
    enabled: z.boolean(),
    /**
     * Where the server certificate comes from: 'cert-manager' (a Certificate in dist/, cert-manager is a
     * prerequisite) or 'secret' (a kubernetes.io/tls Secret the user creates, with tls.crt, tls.key and ca.crt).
     */
    source: certificateSource,
    /** The Secret with tls.crt, tls.key and ca.crt in the postgres namespace: written by cert-manager, or the user's. */
    secretName: dnsSubdomain,
    /** cert-manager only: the issuer that signs the server certificate. @default - a self-signed CA created in the postgres namespace */
    issuer: certificateIssuer,
    /** The only way to run the production profile without TLS: every password and row crosses the network in the clear. */
    insecurePlaintextInProduction: z.boolean(),
  })
  .strict()
  .superRefine(checkCertificateIssuer);

/** The Secret in the apps namespace that holds the CA (key ca.crt) the services and the Dapr sidecars verify the server with. */
export const POSTGRES_CA_SECRET = 'learnflow-postgres-ca';

export const postgresConnectionLimits = z
  .object({
    /** CONNECTION LIMIT of the application role: the services' own pools together. */
    appRole: z.number().int('must be a whole number').min(1, 'must be >= 1'),
  })
  .strict();

export const postgresTlsDefaults = {
  enabled: false,
  source: 'cert-manager',
  secretName: 'postgres-tls',
  insecurePlaintextInProduction: false,
} satisfies z.input<typeof postgresTls>;

/** superuser_reserved_connections, set explicitly so that the budget below counts what the server keeps. */
export const SUPERUSER_RESERVED_CONNECTIONS = 3;
/** The migrations and seed Jobs hold one connection each (psql runs one session at a time). */
export const JOB_CONNECTIONS = 2;

interface BudgetInput {
  readonly profile: string;
  readonly postgres: {
    readonly maxConnections: number;
    readonly tls: z.infer<typeof postgresTls>;
    readonly connectionLimits: z.infer<typeof postgresConnectionLimits>;
    readonly backup: { readonly enabled: boolean; readonly dump: { readonly enabled: boolean } };
  };
  readonly dapr: { readonly appIds: readonly string[]; readonly stateStore: { readonly maxConns: number; readonly maxReplicasPerAppId: number } };
}

/** CONNECTION LIMIT of the Dapr role: every sidecar of every app-id with its whole pool. */
export function daprRoleConnectionLimit(dapr: BudgetInput['dapr']): number {
  return dapr.stateStore.maxConns * dapr.stateStore.maxReplicasPerAppId * dapr.appIds.length;
}

/**
 * CONNECTION LIMIT of the backup role (0 when backups are off): its regular sessions, base-backup.sh's size
 * query (psql, closed before pg_basebackup starts) and pg_dump (one, without -j). A long base backup may still
 * run when the dump is due, so both count. pg_basebackup's own two connections (-X stream: the files and the
 * WAL stream) are WAL senders: they take max_wal_senders slots (10 by default), not max_connections ones
 * (since PostgreSQL 12), and PostgreSQL 16 does not count them against the role's CONNECTION LIMIT either
 * (measured on 16.14: a role limited to 1 opened 3 WAL senders, then 1 regular session, and was refused the
 * 2nd; test/postgres-tls.test.ts pins it for the backup role).
 */
export function backupRoleConnectionLimit(backup: BudgetInput['postgres']['backup']): number {
  if (!backup.enabled) return 0;
  return 1 + (backup.dump.enabled ? 1 : 0);
}

/**
 * Production keeps TLS unless the loud opt-out is set; and every client's pool, the backups, the Jobs and
 * the superuser's reserve must fit max_connections, or the last client to connect is refused at run time.
 */
export function checkPostgresSecurity(config: BudgetInput, ctx: z.RefinementCtx): void {
  const { tls } = config.postgres;
  if (config.profile === 'production' && !tls.enabled && !tls.insecurePlaintextInProduction) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['postgres', 'tls', 'enabled'],
      message:
        'must be true in the production profile: without TLS every password and row crosses the network in the clear ' +
        '(set postgres.tls.insecurePlaintextInProduction: true to accept that)',
    });
  }
  const dapr = daprRoleConnectionLimit(config.dapr);
  const backup = backupRoleConnectionLimit(config.postgres.backup);
  const { appRole } = config.postgres.connectionLimits;
  const needed = appRole + dapr + backup + JOB_CONNECTIONS + SUPERUSER_RESERVED_CONNECTIONS;
  if (needed > config.postgres.maxConnections) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['postgres', 'maxConnections'],
      message:
        `must be at least ${needed}: postgres.connectionLimits.appRole ${appRole} + the Dapr state store's ${dapr} ` +
        `(dapr.stateStore.maxConns ${config.dapr.stateStore.maxConns} x dapr.stateStore.maxReplicasPerAppId ${config.dapr.stateStore.maxReplicasPerAppId} ` +
        `x ${config.dapr.appIds.length} dapr.appIds) + ${backup ? `${backup} for the backups (postgres.backup) + ` : ''}` +
        `${JOB_CONNECTIONS} for the Jobs + ${SUPERUSER_RESERVED_CONNECTIONS} superuser_reserved_connections`,
    });
  }
}
