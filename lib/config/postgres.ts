import { z } from 'zod';
import { cronSchedule } from './cron';
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

/**
 * The second login of a rotatable role (`npm run secrets -- --rotate`, seed/cluster.sql explains the twins).
 * Both must fit PostgreSQL's 63 bytes, hence at most 61 characters for a rotatable role.
 */
export function rotationTwin(role: string): string {
  return `${role}_b`;
}

export const rotatableRoleName = roleName.refine((name) => name.length <= 61, {
  message: "must be at most 61 characters (its rotation twin '<name>_b' must fit PostgreSQL's 63)",
});

const isMemoryQuantity = (memory: string) => (quantityValue(memory) ?? 0) >= 2 ** 20;

const retention = z.number().int('must be a whole number').min(1, 'must be >= 1 (the newest backup is always kept)').max(1000, 'must be <= 1000');

/** Continuous WAL archiving and scheduled base backups to a backup volume (docs/postgres.md, "Backups"). */
const backupConfig = z
  .object({
    enabled: z.boolean(),
    /** Login role with REPLICATION (pg_basebackup) and pg_read_all_data (pg_dump); nothing else. */
    role: roleName,
    /** The backup volume: archived WAL and base backups. At least the data volume's size (one full base backup). */
    storage: z
      .object({
        size: byteQuantity,
        storageClassName: dnsLabel.optional(),
        /** ReadWriteOnce: the backup Jobs run on the server's node (pod affinity); ReadWriteMany: anywhere. */
        accessMode: z.enum(['ReadWriteOnce', 'ReadWriteMany']),
      })
      .strict(),
    /** archive_timeout: a segment is archived at least this often when anything was written, the bound on lost commits (RPO). */
    archiveTimeoutSeconds: z.number().int('must be a whole number').min(1, 'must be >= 1').max(86_400, 'must be <= 86400'),
    /** When the base backup CronJob runs (UTC). */
    schedule: cronSchedule,
    /** Base backups kept; archived WAL older than the oldest kept one is removed. */
    retention,
    /** How long one base backup may take before the Job is stopped. */
    activeDeadlineSeconds: z.number().int('must be a whole number').min(60, 'must be >= 60').max(86_400, 'must be <= 86400'),
    /** A logical dump (pg_dump, custom format) of the application database, for portability. */
    dump: z.object({ enabled: z.boolean(), schedule: cronSchedule, retention }).strict(),
  })
  .strict();

export const postgresConfig = z
  .object({
    name: dnsLabel,
    image: pinnedImage,
    database: sqlIdentifier,
    /** Login role of the LearnFlow services: DML on the application tables, no DDL. */
    appRole: rotatableRoleName,
    /** NOLOGIN role that owns the database, schema objects and migrations. */
    ownerRole: roleName,
    /** Login role of Dapr's state.postgresql store: owns only its own schema. */
    daprRole: rotatableRoleName,
    /** Schema in which Dapr's state store creates its tables. */
    daprSchema: sqlIdentifier.refine((name) => name !== 'public', { message: "must not be 'public' (the application schema)" }),
    storage: z.object({ size: byteQuantity, storageClassName: dnsLabel.optional() }).strict(),
    resources,
    maxConnections: z.number().int('must be a whole number').min(10, 'must be >= 10').max(5000, 'must be <= 5000'),
    /** Per-role CONNECTION LIMITs (the Dapr role's is derived from dapr.stateStore); their sum is checked against maxConnections. */
    connectionLimits: postgresConnectionLimits,
    tls: postgresTls,
    jobs: jobSettings,
    backup: backupConfig,
  })
  .strict()
  .superRefine((config, ctx) => {
    const [backupBytes, dataBytes] = [quantityValue(config.backup.storage.size), quantityValue(config.storage.size)];
    if (config.backup.enabled && backupBytes !== undefined && dataBytes !== undefined && backupBytes < dataBytes) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['backup', 'storage', 'size'],
        message: `must be at least postgres.storage.size (${config.storage.size}): a base backup of a full data volume must fit, beside the archived WAL`,
      });
    }
    if (isMemoryQuantity(config.resources.limits.memory) && postgresMemoryPlan(config.resources.limits.memory, config.maxConnections).workMemMiB < 1) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['maxConnections'],
        message: `too many for resources.limits.memory ${config.resources.limits.memory}: each connection needs about ${BACKEND_OVERHEAD_MIB + WORK_MEM_PER_CONNECTION} MiB beside shared_buffers, maintenance_work_mem and /dev/shm`,
      });
    }
    const roles = [
      { path: ['appRole'], name: config.appRole },
      { path: ['appRole'], name: rotationTwin(config.appRole), twin: true },
      { path: ['ownerRole'], name: config.ownerRole },
      { path: ['daprRole'], name: config.daprRole },
      { path: ['daprRole'], name: rotationTwin(config.daprRole), twin: true },
      { path: ['backup', 'role'], name: config.backup.role },
    ];
    roles.forEach((role, i) => {
      const clash = roles.findIndex((other) => other.name === role.name);
      if (clash < i) {
        const other = `postgres.${roles[clash].path.join('.')}`;
        const message = roles[clash].twin ? `must differ from ${roles[clash].name}, ${other}'s rotation twin` : `must differ from ${other}`;
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: role.path, message: role.twin ? `${message} (its rotation twin is ${role.name})` : message });
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
  backup: {
    // Production on, minikube opt-in (postgres.backup.enabled: true in an override).
    enabled: false,
    role: 'learnflow_backup',
    // Twice the data volume: a full base backup, the WAL archived until the next one, room to spare.
    storage: { size: '10Gi', accessMode: 'ReadWriteOnce' },
    // PostgreSQL's docs: values under a minute bloat the archive (every forced segment is 16 MiB).
    archiveTimeoutSeconds: 60,
    schedule: '0 2 * * *',
    retention: 7,
    activeDeadlineSeconds: 21_600,
    dump: { enabled: false, schedule: '30 2 * * *', retention: 7 },
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
    backup: { ...postgresDefaults.backup, enabled: true, storage: { size: '200Gi', accessMode: 'ReadWriteOnce' } },
  },
} satisfies Record<string, Partial<PostgresConfigInput>>;
