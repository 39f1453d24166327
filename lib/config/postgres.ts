import { z } from 'zod';
import { jobSettings } from './job';
import { postgresConnectionLimits, postgresTls, postgresTlsDefaults } from './postgres-security';
import { dnsLabel, pinnedImage } from './names';
import { mebibytes, quantityValue } from './quantity';
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

/** What an idle backend costs beside shared memory (catalog caches, its stack; PostgreSQL wiki). */
export const BACKEND_OVERHEAD_MIB = 5;

const isMemoryQuantity = (memory: string) => (quantityValue(memory) ?? 0) >= 2 ** 20;

/**
 * Memory sized from the container limit (PostgreSQL wiki, "Tuning Your PostgreSQL Server"):
 * shared_buffers a quarter; /dev/shm (memory-backed, counted against the limit) an eighth; every
 * backend's own overhead; and what is left as work_mem for three sort or hash nodes per connection
 * at once. The OOM killer, not PostgreSQL, enforces a container's limit, so the sum must fit.
 */
export function postgresMemoryPlan(limitMemory: string, maxConnections: number) {
  const limitMiB = mebibytes(limitMemory);
  const sharedBuffersMiB = Math.max(32, Math.floor(limitMiB / 4));
  const sharedMemoryMiB = Math.max(64, Math.floor(limitMiB / 8));
  const left = limitMiB - sharedBuffersMiB - sharedMemoryMiB - maxConnections * BACKEND_OVERHEAD_MIB;
  return { limitMiB, sharedBuffersMiB, sharedMemoryMiB, workMemMiB: Math.floor(left / (maxConnections * 3)) };
}

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
        message: `too many for resources.limits.memory ${config.resources.limits.memory}: each connection needs about ${BACKEND_OVERHEAD_MIB + 3} MiB beside shared_buffers and /dev/shm`,
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
