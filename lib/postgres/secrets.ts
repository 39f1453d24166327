import { randomBytes } from 'node:crypto';
import { rotationTwin } from '../config/postgres';
import type { PostgresConfig } from '../config/schema';
import { CLIENT_CA_FILE } from './tls';

/** One key of a Secret and what it holds. */
export interface SecretKeySpec {
  readonly key: string;
  readonly description: string;
}

/**
 * A Secret the manifests reference by name but never contain. Every namespace listed holds a copy
 * with the same values, so the Jobs (postgres namespace) and the services (apps namespace) agree.
 */
export interface SecretContract {
  readonly name: string;
  readonly namespaces: readonly string[];
  readonly keys: readonly SecretKeySpec[];
  /** Keys holding random values; every other key is derived from them and the config. */
  readonly generatedKeys: readonly string[];
  /** Who reads the Secret: workloads, components. */
  readonly readers: readonly string[];
  /**
   * All key values from the generated ones; `login` is the login role the values are for (a rotatable
   * role's twin after a rotation). @default login - the contract's role
   */
  readonly render: (generated: Readonly<Record<string, string>>, login?: string) => Record<string, string>;
  /** How `npm run secrets -- --rotate` rotates it without downtime. @default - not rotatable */
  readonly rotation?: RoleRotation;
}

/**
 * A PostgreSQL role has one password, so a rotatable role has two logins: the role itself (which holds the
 * grants) and its twin, a member of it that acts as it (`SET role` at login). The Secret's `username` names
 * the login in use; a rotation gives the other one a new password and switches the Secret to it.
 */
export interface RoleRotation {
  /** What `--rotate` takes: app, dapr or monitoring. */
  readonly name: string;
  readonly role: string;
  readonly twin: string;
  /** The workloads that read the Secret once, at start (restarted after a rotation). */
  readonly restart: RestartRule;
}

/** Which live workloads must restart to read a rotated Secret. */
export type RestartRule =
  /** Every workload of the namespace whose pod template references the Secret (env, envFrom, volumes). */
  | { readonly kind: 'references'; readonly namespace: string }
  /** Every Dapr-enabled workload of the namespace (its sidecar resolves the component's secretKeyRef at start). */
  | { readonly kind: 'dapr-sidecars'; readonly namespace: string }
  /** One named Deployment. */
  | { readonly kind: 'deployment'; readonly namespace: string; readonly name: string };


export interface PostgresSecretsProps {
  readonly config: PostgresConfig;
  readonly postgresNamespace: string;
  readonly appsNamespace: string;
  /** In-cluster host name of the client Service. */
  readonly host: string;
  readonly port: number;
  /** Whether the seed Job creates test users (development profiles). */
  readonly seedTestUsers: boolean;
  /** postgres_exporter's login role and its Deployment (observability on). @default - none */
  readonly monitoring?: { readonly role: string; readonly exporterDeployment: string };
}

/** The superuser's fixed name: the image's default POSTGRES_USER. */
export const SUPERUSER = 'postgres';

/** Test users seeded in development profiles, and the seed-users Secret key of each one's password. */
export const TEST_USERS = [
  { role: 'admin', passwordKey: 'admin-password' },
  { role: 'teacher', passwordKey: 'teacher-password' },
  { role: 'student', passwordKey: 'student-password' },
] as const;

/** Names, keys and readers of every PostgreSQL Secret: the contract `npm run secrets` fulfils. */
export class PostgresSecrets {
  public readonly superuser: SecretContract;
  public readonly app: SecretContract;
  public readonly dapr: SecretContract;
  /** @default - absent unless test users are seeded */
  public readonly seedUsers?: SecretContract;
  /** @default - absent unless backups are on */
  public readonly backup?: SecretContract;
  /** @default - absent unless observability is on */
  public readonly monitoring?: SecretContract;

  constructor(props: PostgresSecretsProps) {
    const { config, postgresNamespace, appsNamespace, host, port } = props;
    const endpointKeys = (user: string) => ({ username: user, host, port: String(port), database: config.database });
    const rotation = (name: string, role: string, restart: RestartRule): RoleRotation => ({ name, role, twin: rotationTwin(role), restart });
    // verify-full: encrypted, and the server proves it is the host named (its certificate, signed by the CA
    // that clients mount from the Secret learnflow-postgres-ca at CLIENT_CA_FILE).
    const ssl = config.tls.enabled ? { sslmode: 'verify-full', sslrootcert: CLIENT_CA_FILE } : { sslmode: 'disable' };
    const sslParameters = Object.entries(ssl);

    this.superuser = {
      name: 'learnflow-postgres-superuser',
      namespaces: [postgresNamespace],
      keys: [{ key: 'password', description: `password of the superuser '${SUPERUSER}'` }],
      generatedKeys: ['password'],
      readers: [`StatefulSet ${config.name} (POSTGRES_PASSWORD_FILE, first start only)`, 'the migrations Job'],
      render: (generated) => ({ password: generated.password }),
    };

    this.app = {
      name: 'learnflow-postgres-app',
      namespaces: [postgresNamespace, appsNamespace],
      keys: [
        { key: 'username', description: `the application role's login in use (${config.appRole}, or ${rotationTwin(config.appRole)} after a rotation)` },
        { key: 'password', description: 'its password (the migrations Job sets it on the role)' },
        { key: 'host', description: 'in-cluster host of the client Service' },
        { key: 'port', description: 'server port' },
        { key: 'database', description: 'application database' },
        { key: 'connectionString', description: 'postgresql:// URL with all of the above' },
      ],
      generatedKeys: ['password'],
      readers: ['the migrations Job', 'the seed Job', `LearnFlow services (namespace ${appsNamespace})`],
      rotation: rotation('app', config.appRole, { kind: 'references', namespace: appsNamespace }),
      render: (generated, login = config.appRole) => ({
        ...endpointKeys(login),
        password: generated.password,
        connectionString: `postgresql://${login}:${generated.password}@${host}:${port}/${config.database}?${sslParameters.map(([key, value]) => `${key}=${value}`).join('&')}`,
      }),
    };

    this.dapr = {
      name: 'learnflow-postgres-dapr',
      namespaces: [postgresNamespace, appsNamespace],
      keys: [
        { key: 'username', description: `the Dapr state store role's login in use (${config.daprRole}, or ${rotationTwin(config.daprRole)} after a rotation)` },
        { key: 'password', description: 'its password (the migrations Job sets it on the role)' },
        { key: 'connectionString', description: `libpq key=value string for state.postgresql v2 (schema ${config.daprSchema})` },
      ],
      generatedKeys: ['password'],
      readers: ['the migrations Job', `Dapr component state.postgresql (namespace ${appsNamespace}, key connectionString)`],
      rotation: rotation('dapr', config.daprRole, { kind: 'dapr-sidecars', namespace: appsNamespace }),
      render: (generated, login = config.daprRole) => ({
        username: login,
        password: generated.password,
        // Plain libpq keywords only, so psql accepts it too; the role's search_path points at its schema.
        connectionString: [
          `host=${host}`,
          `port=${port}`,
          `user=${login}`,
          `password=${generated.password}`,
          `dbname=${config.database}`,
          // pgx (Dapr's driver) reads sslrootcert as a file path of the daprd container (pgconn/config.go, configTLS).
          ...sslParameters.map(([key, value]) => `${key}=${value}`),
        ].join(' '),
      }),
    };

    if (config.backup.enabled) {
      this.backup = {
        name: 'learnflow-postgres-backup',
        namespaces: [postgresNamespace],
        keys: [{ key: 'password', description: `password of the backup role '${config.backup.role}' (the migrations Job sets it)` }],
        generatedKeys: ['password'],
        readers: ['the migrations Job', 'the base backup and dump CronJobs'],
        render: (generated) => ({ password: generated.password }),
      };
    }

    const { monitoring: monitoringProps } = props;
    if (monitoringProps) {
      const role = monitoringProps.role;
      this.monitoring = {
        name: 'learnflow-postgres-monitoring',
        namespaces: [postgresNamespace],
        keys: [
          { key: 'username', description: `the monitoring role's login in use (${role}, or ${rotationTwin(role)} after a rotation)` },
          { key: 'password', description: `its password (member of pg_monitor)` },
        ],
        generatedKeys: ['password'],
        readers: ['the monitoring-role Job (sets it on the role)', 'postgres_exporter (DATA_SOURCE_USER_FILE, DATA_SOURCE_PASS_FILE)'],
        rotation: rotation('monitoring', role, { kind: 'deployment', namespace: postgresNamespace, name: monitoringProps.exporterDeployment }),
        render: (generated, login = role) => ({ username: login, password: generated.password }),
      };
    }

    if (props.seedTestUsers) {
      this.seedUsers = {
        name: 'learnflow-postgres-seed-users',
        namespaces: [postgresNamespace],
        keys: TEST_USERS.map((user) => ({ key: user.passwordKey, description: `initial password of the test ${user.role}` })),
        generatedKeys: TEST_USERS.map((user) => user.passwordKey),
        readers: ['the seed Job (development profiles; stored as bcrypt hashes)'],
        render: (generated) => Object.fromEntries(TEST_USERS.map((user) => [user.passwordKey, generated[user.passwordKey]])),
      };
    }
  }

  /** Every Secret of the contract, in the order an operator creates them. */
  public get all(): readonly SecretContract[] {
    return [
      this.superuser,
      this.app,
      this.dapr,
      ...(this.backup ? [this.backup] : []),
      ...(this.seedUsers ? [this.seedUsers] : []),
      ...(this.monitoring ? [this.monitoring] : []),
    ];
  }
}

/** A contract's entries in the endpoints document (verify's secret-references reads them): name and namespaces, keys, readers. */
export function secretContractLines(secrets: readonly SecretContract[]): string[] {
  return secrets.flatMap((secret) => [
    `${secret.name}  (namespaces: ${secret.namespaces.join(', ')})`,
    `  keys:    ${secret.keys.map((key) => key.key).join(', ')}`,
    `  readers: ${secret.readers.join('; ')}`,
  ]);
}

/** A random password: 24 random bytes as base64url, safe unquoted in URLs and libpq key=value strings. */
export function randomPassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Fresh random values for a Secret's generated keys. */
export function generateSecretValues(secret: SecretContract): Record<string, string> {
  return Object.fromEntries(secret.generatedKeys.map((key) => [key, randomPassword()]));
}
