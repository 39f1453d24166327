import { z } from 'zod';
import { dnsLabel, pinnedImage } from './names';
import { byteQuantity, resources } from './quantity';

// PostgreSQL identifiers we create (database, role): lower-case, unquoted-safe, at most 63 bytes (NAMEDATALEN-1).
const sqlIdentifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 63 characters)');

export const postgresConfig = z
  .object({
    name: dnsLabel,
    image: pinnedImage,
    database: sqlIdentifier,
    appRole: sqlIdentifier,
    storage: z.object({ size: byteQuantity, storageClassName: dnsLabel.optional() }).strict(),
    resources,
  })
  .strict();

export type PostgresConfigInput = z.input<typeof postgresConfig>;

export const postgresDefaults: PostgresConfigInput = {
  name: 'postgres',
  image: 'postgres:16.13',
  database: 'learnflow_db',
  appRole: 'learnflow',
  storage: { size: '5Gi' },
  resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '1', memory: '512Mi' } },
};

export const postgresProfiles = {
  minikube: {},
  production: {
    storage: { size: '50Gi' },
    resources: { requests: { cpu: '1', memory: '4Gi' }, limits: { cpu: '2', memory: '4Gi' } },
  },
} satisfies Record<string, Partial<PostgresConfigInput>>;
