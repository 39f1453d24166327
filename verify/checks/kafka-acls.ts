import type { StaticContext } from '../context';
import type { Dist } from '../dist';
import { topicsFiles } from '../kafka-topics';
import { type Check, type CheckResult, type DistObject, fail, formatRef, pass, refOf, skip, warn } from '../model';
import { envValue, kafkaContainer, kafkaStatefulSets, objectsOfKind } from '../workloads';
import { kafkaListenersSecured } from './kafka';
import { VERIFY_TOPIC } from './kafka-live';

// kafka.security's rights: the authorizer on every node, and the users Job's ACLs (acls.conf) giving each
// Dapr app-id what its subscriptions need and nothing beyond the declared topics and its own consumer group.

export const STANDARD_AUTHORIZER = 'org.apache.kafka.metadata.authorizer.StandardAuthorizer';
/** The users Job's ConfigMap key: `<principal> <TOPIC|GROUP> <name> <operation>` per line (lib/kafka/users.sh). */
const ACLS_FILE_KEY = 'acls.conf';
const APP_PRINCIPAL = /^learnflow\.app\.(.+)$/;
const VERIFY_PRINCIPAL = 'learnflow.verify';
const TOPIC_OPERATIONS = new Set(['READ', 'WRITE', 'DESCRIBE', 'DESCRIBE_CONFIGS']);

const NO_SECURED_KAFKA = 'no Kafka StatefulSet in dist/ whose listeners all authenticate';

export const kafkaAuthorizer: Check<StaticContext> = {
  id: 'kafka-authorizer',
  description:
    'where the listeners authenticate, every broker and voter authorizes each request (StandardAuthorizer, allow.everyone.if.no.acl.found=false) and only certificate principals are super users',
  component: 'kafka',
  remediation: 'npm run synth sets KAFKA_AUTHORIZER_CLASS_NAME, KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND=false and KAFKA_SUPER_USERS with kafka.security.enabled',
  run: ({ dist }) => {
    const secured = kafkaStatefulSets(dist).filter(kafkaListenersSecured);
    if (secured.length === 0) return [skip(NO_SECURED_KAFKA)];
    return secured.map((item) => {
      const ref = refOf(item);
      const container = kafkaContainer(item);
      const authorizer = envValue(container, 'KAFKA_AUTHORIZER_CLASS_NAME');
      if (authorizer !== STANDARD_AUTHORIZER) {
        return fail([ref], `${formatRef(ref)}: env KAFKA_AUTHORIZER_CLASS_NAME ${authorizer ?? '(unset)'}: every authenticated user may read, write and delete every topic`);
      }
      const everyone = envValue(container, 'KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND');
      if (everyone !== 'false') {
        return fail([ref], `${formatRef(ref)}: env KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND ${everyone ?? '(unset)'}: a resource without an ACL is open to every user (rule: false)`);
      }
      // Kafka trims each entry (StandardAuthorizer.getConfiguredSuperUsers).
      const superUsers = (envValue(container, 'KAFKA_SUPER_USERS') ?? '').split(';').map((user) => user.trim()).filter(Boolean);
      const scram = superUsers.filter((user) => user.startsWith('User:learnflow.'));
      if (scram.length > 0) return fail([ref], `${formatRef(ref)}: env KAFKA_SUPER_USERS names the SCRAM user(s) ${scram.join(', ')}: an app with every right`);
      // A certificate's principal is its CN (ssl.principal.mapping.rules), and a SCRAM user of the same name is the
      // same principal: with cert-manager's Certificates in dist/, a super user must be one of their common names.
      const commonNames = certificateCommonNames(dist, ref.namespace);
      const uncertified = commonNames.length === 0 ? [] : superUsers.filter((user) => !commonNames.includes(user.replace(/^User:/, '')));
      if (uncertified.length > 0) {
        return fail([ref], `${formatRef(ref)}: env KAFKA_SUPER_USERS names ${uncertified.join(', ')}, the common name of no Certificate in dist/ (${commonNames.join(', ')}): a SCRAM user of that name would have every right`);
      }
      const compared = commonNames.length === 0 ? ' (not compared with certificates: no cert-manager Certificate in dist/, your own Secrets)' : ', each a Certificate\'s common name';
      return pass([ref], `${formatRef(ref)}: StandardAuthorizer, deny without an ACL, super users ${superUsers.join(', ') || '(none)'}${compared}`);
    });
  },
};

/** The subject common names of the cert-manager leaf Certificates (not a CA's) in `namespace`. */
function certificateCommonNames(dist: Dist, namespace: string | undefined): string[] {
  return objectsOfKind(dist, 'Certificate')
    .filter((item) => item.object.metadata?.namespace === namespace && !item.object.spec?.isCA && typeof item.object.spec?.commonName === 'string')
    .map((item) => item.object.spec.commonName as string);
}

interface AclLine {
  readonly principal: string;
  readonly resourceType: string;
  readonly name: string;
  readonly operation: string;
  /** The line as written, and how many whitespace-separated fields it has: the users Job stops on any but 4. */
  readonly text: string;
  readonly fields: number;
}

function aclsFiles(dist: Dist): { configMap: DistObject; acls: AclLine[] }[] {
  return objectsOfKind(dist, 'ConfigMap')
    .filter((item) => typeof item.object.data?.[ACLS_FILE_KEY] === 'string')
    .map((configMap) => ({
      configMap,
      acls: (configMap.object.data[ACLS_FILE_KEY] as string)
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => {
          const text = line.trim();
          const fields = text.split(/\s+/);
          const [principal = '', resourceType = '', name = '', operation = ''] = fields;
          return { principal, resourceType, name, operation, text, fields: fields.length };
        }),
    }));
}

export const kafkaAclsLeastPrivilege: Check<StaticContext> = {
  id: 'kafka-acls-least-privilege',
  description:
    "where the listeners authenticate, the users Job's ACLs give every app-id of a Dapr Subscription READ on its topic and its own consumer group (WRITE on its dead-letter topic), and no right beyond the declared topics and the app-id's own group",
  component: 'kafka',
  remediation: 'declare what each app-id publishes and subscribes to (dapr.publications, dapr.subscriptions) and npm run synth: the users Job (14-kafka-users.yaml) carries the ACLs',
  run: ({ dist }) => {
    if (!kafkaStatefulSets(dist).some(kafkaListenersSecured)) return [skip(NO_SECURED_KAFKA)];
    const files = aclsFiles(dist);
    if (files.length === 0) return [fail([], 'Kafka authenticates its clients but no ConfigMap in dist/ carries acls.conf: no app-id has a SCRAM user or a right (the users Job is missing)')];
    const declaredTopics = new Set(topicsFiles(dist).flatMap((file) => file.topics.map((topic) => topic.name)));
    return files.flatMap(({ configMap, acls }): CheckResult[] => {
      const ref = refOf(configMap);
      const at = `${formatRef(ref)} data.${ACLS_FILE_KEY}`;
      const has = (principal: string, resourceType: string, name: string, operation: string) =>
        acls.some((acl) => acl.principal === principal && acl.resourceType === resourceType && acl.name === name && acl.operation === operation);
      const problems: string[] = [];
      for (const acl of acls) {
        const line = `${acl.principal} ${acl.resourceType} ${acl.name} ${acl.operation}`;
        const app = APP_PRINCIPAL.exec(acl.principal)?.[1];
        if (acl.fields !== 4) problems.push(`'${acl.text}': ${acl.fields} fields, where the users Job reads '<principal> <TOPIC|GROUP> <name> <operation>' and stops on any other line`);
        else if (app === undefined && acl.principal !== VERIFY_PRINCIPAL) problems.push(`'${line}': ${acl.principal} is neither an app-id's principal (learnflow.app.<app-id>) nor the verifier's`);
        else if (acl.resourceType === 'TOPIC' && !declaredTopics.has(acl.name)) problems.push(`'${line}': topic ${acl.name} is not declared in topics.conf`);
        else if (acl.resourceType === 'TOPIC' && !TOPIC_OPERATIONS.has(acl.operation)) problems.push(`'${line}': ${acl.operation} is beyond what producing, consuming and describing need`);
        else if (acl.principal === VERIFY_PRINCIPAL && (acl.resourceType !== 'TOPIC' || (['READ', 'WRITE'].includes(acl.operation) && acl.name !== VERIFY_TOPIC))) {
          problems.push(`'${line}': the verifier describes the topics and reads and writes ${VERIFY_TOPIC} only`);
        }
        else if (acl.resourceType === 'GROUP' && (acl.name !== app || acl.operation !== 'READ')) problems.push(`'${line}': an app-id gets READ on the consumer group named by itself only`);
        else if (acl.resourceType !== 'TOPIC' && acl.resourceType !== 'GROUP') problems.push(`'${line}': no app needs a right on a ${acl.resourceType}`);
      }
      for (const subscription of objectsOfKind(dist, 'Subscription')) {
        const { topic, deadLetterTopic } = subscription.object.spec ?? {};
        for (const appId of (subscription.object.scopes ?? []) as string[]) {
          const principal = `learnflow.app.${appId}`;
          const missing = [
            ...(has(principal, 'TOPIC', topic, 'READ') ? [] : [`READ on topic ${topic}`]),
            ...(has(principal, 'GROUP', appId, 'READ') ? [] : [`READ on group ${appId}`]),
            ...(deadLetterTopic && !has(principal, 'TOPIC', deadLetterTopic, 'WRITE') ? [`WRITE on dead-letter topic ${deadLetterTopic}`] : []),
          ];
          if (missing.length > 0) problems.push(`${formatRef(refOf(subscription))} (scope ${appId}): ${principal} lacks ${missing.join(', ')}, so its sidecar is refused`);
        }
      }
      if (problems.length > 0) return [fail([ref], `${at}: ${problems.join('; ')}`)];
      // Least privilege by default means no flow by default: say so, where an install would otherwise find out from
      // refused sidecars.
      const appTopicOperations = new Set(acls.filter((acl) => APP_PRINCIPAL.test(acl.principal) && acl.resourceType === 'TOPIC').map((acl) => acl.operation));
      const idle = [...(appTopicOperations.has('WRITE') ? [] : ['publishes (no app-id has WRITE on a topic)']), ...(appTopicOperations.has('READ') ? [] : ['consumes (no app-id has READ on a topic)'])];
      if (idle.length > 0) {
        return [warn([ref], `${at}: no app-id ${idle.join(' or ')}: with the authorizer on, no event flows`, 'declare dapr.publications and dapr.subscriptions (app-ids and topics) and npm run synth')];
      }
      return [pass([ref], `${at}: ${acls.length} ACLs, each on a declared topic or the app-id's own group; every Subscription covered`)];
    });
  },
};
