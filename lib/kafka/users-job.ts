import { Construct } from 'constructs';
import { appCredentialsSecret, appPrincipal, KAFKA_CA_SECRET, KAFKA_OWNED_PRINCIPAL_PREFIX, VERIFY_CREDENTIALS_SECRET, VERIFY_PRINCIPAL } from '../config/kafka-security';
import { kafkaObjectNames } from '../config/object-names';
import type { DaprConfig, KafkaConfig, PlatformConfig } from '../config/schema';
import type { KafkaCluster } from './kafka-cluster';
import { deriveKafkaAcls, type KafkaAcl, renderAclsFile } from './kafka-acls';
import { KafkaToolJob } from './kafka-tool-job';
import type { EndpointsSection, ExposesEndpoints } from '../platform/endpoints';
import { SECRETS_MOUNT } from '../platform/hashed-job';
import { type SecretContract, secretContractLines } from '../postgres/secrets';

export interface UsersJobProps {
  readonly cluster: KafkaCluster;
  readonly config: KafkaConfig;
  /** The app-ids (one SCRAM user each) and what they publish and subscribe to (their ACLs). */
  readonly dapr: DaprConfig;
  readonly platform: PlatformConfig;
  /** Where the services' Dapr sidecars read their credentials and the CA copy. */
  readonly appsNamespace: string;
  /** The topic `npm run verify -- --live` round-trips on. */
  readonly verifyTopic: string;
}

/** One SCRAM user of the Job: its principal and the Secret whose `password` key is its password. */
export interface KafkaUser {
  readonly principal: string;
  readonly secretName: string;
}

const CREDENTIALS_DIR = 'kafka-users';

/**
 * With kafka.security: reconciles the SCRAM-SHA-512 users of the Dapr app-ids and of the verifier, and their
 * ACLs (lib/kafka/kafka-acls.ts), with lib/kafka/users.sh, as the admin principal. It owns the principals
 * starting with `learnflow.` only: it sets every declared user's credential from its Secret, and deletes the
 * users and removes the ACLs of that prefix that the config no longer declares. The users and ACLs are in its
 * ConfigMap, so a change of them is a new Job; a changed password in a Secret is not (run it again: README).
 */
export class UsersJob extends Construct implements ExposesEndpoints {
  public readonly jobName: string;
  public readonly users: readonly KafkaUser[];
  public readonly acls: readonly KafkaAcl[];
  /** The credentials Secrets `npm run secrets` creates: one per app-id (kafka and apps namespaces) and the verifier's. */
  public readonly secrets: readonly SecretContract[];
  /** The nodes' certificate Secret, whose ca.crt `npm run secrets` copies to KAFKA_CA_SECRET in the apps namespace. */
  public readonly caSource: { readonly secretName: string; readonly namespace: string };
  public readonly appsNamespace: string;

  constructor(scope: Construct, id: string, props: UsersJobProps) {
    super(scope, id);
    const { cluster, config, dapr } = props;
    this.users = [
      ...dapr.appIds.map((appId) => ({ principal: appPrincipal(appId), secretName: appCredentialsSecret(appId) })),
      { principal: VERIFY_PRINCIPAL, secretName: VERIFY_CREDENTIALS_SECRET },
    ];
    const kafkaNamespace = cluster.namespace;
    this.appsNamespace = props.appsNamespace;
    const keys = (principal: string) => [
      { key: 'username', description: `the SCRAM user (${principal})` },
      { key: 'password', description: 'its password (the users Job sets it as the SCRAM-SHA-512 credential)' },
    ];
    this.secrets = [
      ...dapr.appIds.map((appId) => ({
        name: appCredentialsSecret(appId),
        namespaces: [kafkaNamespace, props.appsNamespace],
        keys: keys(appPrincipal(appId)),
        generatedKeys: ['password'],
        readers: ['the users Job', `the Dapr pub/sub component of app-id ${appId} (namespace ${props.appsNamespace})`],
        render: (generated: Readonly<Record<string, string>>) => ({ username: appPrincipal(appId), password: generated.password }),
      })),
      {
        name: VERIFY_CREDENTIALS_SECRET,
        namespaces: [kafkaNamespace],
        keys: keys(VERIFY_PRINCIPAL),
        generatedKeys: ['password'],
        readers: ['the users Job', '`npm run verify -- --live`'],
        render: (generated: Readonly<Record<string, string>>) => ({ username: VERIFY_PRINCIPAL, password: generated.password }),
      },
    ];
    this.caSource = { secretName: cluster.tls.secretName!, namespace: kafkaNamespace };
    this.acls = deriveKafkaAcls({ topics: config.topics, verifyTopic: props.verifyTopic, publications: dapr.publications, subscriptions: dapr.subscriptions });
    const job = new KafkaToolJob(this, 'Tool', {
      cluster,
      kafkaName: config.name,
      platform: props.platform,
      namePrefix: kafkaObjectNames(config.name).usersJobPrefix,
      component: 'users',
      settings: config.usersJob,
      script: 'users.sh',
      files: {
        'users.conf': this.users.map((user) => `${user.principal} ${user.principal}\n`).join(''),
        'acls.conf': renderAclsFile(this.acls),
      },
      secretFiles: this.users.map((user) => ({ secretName: user.secretName, key: 'password', path: `${CREDENTIALS_DIR}/${user.principal}` })),
      // Each credential file lives for one kafka-configs.sh call, in RAM.
      writablePaths: [{ name: 'scram', mountPath: '/var/run/kafka-scram', memory: true, sizeLimit: '1Mi' }],
      env: (mountPath) => [
        { name: 'USERS_FILE', value: `${mountPath}/users.conf` },
        { name: 'CREDENTIALS_DIR', value: `${SECRETS_MOUNT}/${CREDENTIALS_DIR}` },
        { name: 'ACLS_FILE', value: `${mountPath}/acls.conf` },
        { name: 'OWNED_PREFIX', value: KAFKA_OWNED_PRINCIPAL_PREFIX },
        { name: 'SCRAM_WORK_DIR', value: '/var/run/kafka-scram' },
      ],
    });
    this.jobName = job.jobName;
  }

  /**
   * What a principal may do, one `<OPERATION> <type> <name>` a binding; an app-id with none is said loudly: its
   * sidecar logs in, and every publish and subscribe is refused until dapr.publications or dapr.subscriptions name it.
   */
  private rightsOf(principal: string): string {
    const rights = this.acls.filter((acl) => acl.principal === principal).map((acl) => `${acl.operation} ${acl.resourceType.toLowerCase()} ${acl.name}`);
    return rights.length > 0 ? rights.join(', ') : 'NONE (declare what it publishes and subscribes to: dapr.publications, dapr.subscriptions)';
  }

  /** The principals and the credentials Secrets (names, keys, readers; never a value). */
  endpoints(): EndpointsSection {
    return {
      heading: 'Kafka users (SCRAM-SHA-512, ACLs)',
      lines: [
        `users Job: ${this.jobName} (owns every SCRAM user and ACL of principals ${KAFKA_OWNED_PRINCIPAL_PREFIX}*; re-run it after a password change)`,
        ...this.users.map((user) => `User:${user.principal}  password from Secret ${user.secretName}; rights: ${this.rightsOf(user.principal)}`),
        '',
        '### Secrets (created by `npm run secrets`; values never appear in dist/)',
        ...secretContractLines(this.secrets),
        `${KAFKA_CA_SECRET}  (namespaces: ${this.appsNamespace})`,
        '  keys:    ca.crt',
        `  writer:  \`npm run secrets\`, a copy of ${this.caSource.secretName}'s ca.crt once the certificate is issued`,
        `  readers: the Dapr pub/sub components (namespace ${this.appsNamespace}), to verify the brokers`,
      ],
    };
  }
}
