import { z } from 'zod';
import { jobSettings } from './job';
import { dnsLabel, pinnedImage } from './names';
import { BACKEND_OVERHEAD_MIB, postgresMemoryPlan, WORK_MEM_PER_CONNECTION } from './postgres-memory';
import { postgresConnectionLimits, postgresTls, postgresTlsDefaults } from './postgres-security';
import { quantityValue } from './quantity';
import { byteQuantity, resources } from './resources';

// PostgreSQL identifiers we create (database, roles, schema): lower-case, unquoted-safe, at most
// 63 bytes (NAMEDATALEN-1). The 'pg_' prefix is reserved for system roles and schemas.
const sqlIdentifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 63 characters)')
  .refine((name) => !name.startsWith('pg_'), { message: "must not start with 'pg_' (reserved by PostgreSQL)" });

// Names PostgreSQL itself owns: creating or granting to them would be wrong or fail.
const RESERVED_ROLES = ['postgres', 'public'];
const roleName = sqlIdentifier.refine((name) => !RESERVED_ROLES.includes(name), {
  message: `must not be one of ${RESERVED_ROLES.join(', ')} (roles PostgreSQL owns)`,
});

const isMemoryQuantity = (memory: string) => (quantityValue(memory) ?? 0) >= 2 ** 20;

export const postgresConfig = z
  .object({
    name: dnsLabel,
    image: pinnedImage,
    database: sqlIdentifier,
    /** Login role of the LearnFlow services: DML on the application tables, no DDL. */
    appRole: roleName,
    /** NOLOGIN role that owns the database, schema objects and migrations. */
    ownerRole: roleName,
    /** Login role of Dapr's state.postgresql store: owns only its own schema. */
    daprRole: roleName,
    /** Schema in which Dapr's state store creates its tables. */
    daprSchema: sqlIdentifier.refine((name) => name !== 'public', { message: "must not be 'public' (the application schema)" }),
    storage: z.object({ size: byteQuantity, storageClassName: dnsLabel.optional() }).strict(),
    resources,
    maxConnections: z.number().int('must be a whole number').min(10, 'must be >= 10').max(5000, 'must be <= 5000'),
    /** Per-role CONNECTION LIMITs (the Dapr role's is derived from dapr.stateStore); their sum is checked against maxConnections. */
    connectionLimits: postgresConnectionLimits,
    tls: postgresTls,
    jobs: jobSettings,
  })
  .strict()
  .superRefine((config, ctx) => {
    if (isMemoryQuantity(config.resources.limits.memory) && postgresMemoryPlan(config.resources.limits.memory, config.maxConnections).workMemMiB < 1) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['maxConnections'],
        message: `too many for resources.limits.memory ${config.resources.limits.memory}: each connection needs about ${BACKEND_OVERHEAD_MIB + WORK_MEM_PER_CONNECTION} MiB beside shared_buffers, maintenance_work_mem and /dev/shm`,
      });
    }
    const roles = ['appRole', 'ownerRole', 'daprRole'] as const;
    roles.forEach((key, i) => {
      const clash = roles.findIndex((other) => config[other] === config[key]);
      if (clash < i) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key], message: `must differ from postgres.${roles[clash]}` });
      }
    });
  });

export type PostgresConfigInput = z.input<typeof postgresConfig>;

export const postgresDefaults: PostgresConfigInput = {
  name: 'postgres',
  // Newest 16.x in docker-library/postgres at the time of writing (research/pg-dapr.md §1.1); Debian, uid 999.
  image: 'postgres:16.13',
  database: 'learnflow_db',
  appRole: 'learnflow',
  ownerRole: 'learnflow_owner',
  daprRole: 'learnflow_dapr',
  daprSchema: 'dapr_state',
  storage: { size: '5Gi' },
  resources: { requests: { cpu: '250m', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } },
  // 7 services and their sidecars with small pools (the memory plan must fit the limit).
  maxConnections: 50,
  connectionLimits: { appRole: 12 },
  // minikube keeps TLS opt-in (no cert-manager needed); production turns it on.
  tls: postgresTlsDefaults,
  jobs: {
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
    backoffLimit: 4,
    ttlSecondsAfterFinished: 86_400,
    waitTimeoutSeconds: 300,
    activeDeadlineSeconds: 1800,
  },
};

export const postgresProfiles = {
  minikube: {},
  production: {
    storage: { size: '50Gi' },
    resources: { requests: { cpu: '1', memory: '4Gi' }, limits: { cpu: '2', memory: '4Gi' } },
    maxConnections: 200,
    connectionLimits: { appRole: 80 },
    tls: { ...postgresTlsDefaults, enabled: true },
  },
} satisfies Record<string, Partial<PostgresConfigInput>>;
