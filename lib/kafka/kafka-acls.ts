import { appPrincipal, VERIFY_PRINCIPAL } from '../config/kafka-security';

// The Kafka rights of the principals the users Job owns (kafka.security), derived from the config: what each
// Dapr app-id publishes and subscribes to, and what `npm run verify -- --live` asks of the brokers. Every
// binding is an ALLOW on a LITERAL resource name for any host; nothing is a wildcard or a prefix, and no app
// gets a right on the cluster resource.

export type KafkaAclResource = 'TOPIC' | 'GROUP';
export type KafkaAclOperation = 'READ' | 'WRITE' | 'DESCRIBE' | 'DESCRIBE_CONFIGS';

/** One ACL binding: ALLOW `operation` on the LITERAL resource `resourceType:name` to `User:principal` from any host. */
export interface KafkaAcl {
  readonly principal: string;
  readonly resourceType: KafkaAclResource;
  readonly name: string;
  readonly operation: KafkaAclOperation;
}

/** What the derivation reads: the declared topics and Dapr's publications and subscriptions (already validated). */
export interface KafkaAclSource {
  readonly topics: readonly { readonly name: string }[];
  readonly verifyTopic: string;
  readonly publications: readonly { readonly topic: string; readonly appIds: readonly string[] }[];
  readonly subscriptions: readonly { readonly topic: string; readonly appIds: readonly string[]; readonly deadLetterTopic?: string }[];
}

/**
 * The desired ACLs, sorted and without duplicates. The request -> operation table is Kafka's
 * (KafkaApis / AclAuthorizer semantics, docs "Authorization and ACLs"): Produce needs WRITE on the topic;
 * Fetch as a consumer READ on the topic; Metadata of a topic DESCRIBE (implied by READ and WRITE, granted
 * explicitly so `kafka-acls.sh --list` shows the whole right); JoinGroup, SyncGroup, Heartbeat, OffsetCommit
 * and OffsetFetch READ on the group; DescribeConfigs of a topic DESCRIBE_CONFIGS. Dapr's pubsub.kafka
 * (components-contrib v1.18.4, common/component/kafka) opens no admin client and creates no topic, so it needs
 * nothing more; and an idempotent producer would need no cluster right either: since Kafka 3.0 WRITE on any topic
 * implies IDEMPOTENT_WRITE (KIP-679).
 */
export function deriveKafkaAcls(source: KafkaAclSource): KafkaAcl[] {
  const acls = new Map<string, KafkaAcl>();
  const grant = (principal: string, resourceType: KafkaAclResource, name: string, operations: readonly KafkaAclOperation[]) => {
    for (const operation of operations) acls.set(`${principal} ${resourceType} ${name} ${operation}`, { principal, resourceType, name, operation });
  };
  for (const publication of source.publications) {
    for (const appId of publication.appIds) grant(appPrincipal(appId), 'TOPIC', publication.topic, ['WRITE', 'DESCRIBE']);
  }
  for (const subscription of source.subscriptions) {
    for (const appId of subscription.appIds) {
      grant(appPrincipal(appId), 'TOPIC', subscription.topic, ['READ', 'DESCRIBE']);
      // Dapr's pubsub.kafka component joins the consumer group named consumerGroup, which is `{appID}` here.
      grant(appPrincipal(appId), 'GROUP', appId, ['READ']);
      // The subscriber's sidecar publishes an event its app failed to handle to the dead-letter topic.
      if (subscription.deadLetterTopic !== undefined) grant(appPrincipal(appId), 'TOPIC', subscription.deadLetterTopic, ['WRITE', 'DESCRIBE']);
    }
  }
  // verify --live: metadata and describeConfigs of every declared topic; a produce and a group-less fetch on its own topic.
  for (const topic of source.topics) grant(VERIFY_PRINCIPAL, 'TOPIC', topic.name, ['DESCRIBE', 'DESCRIBE_CONFIGS']);
  if (source.topics.some((topic) => topic.name === source.verifyTopic)) grant(VERIFY_PRINCIPAL, 'TOPIC', source.verifyTopic, ['READ', 'WRITE']);
  return [...acls.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, acl]) => acl);
}

/** The ACL file the users Job reads: one binding a line, `<principal> <resource type> <name> <operation>`. */
export function renderAclsFile(acls: readonly KafkaAcl[]): string {
  return acls.map((acl) => `${acl.principal} ${acl.resourceType} ${acl.name} ${acl.operation}\n`).join('');
}
