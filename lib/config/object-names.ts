import { z } from 'zod';
import { CONTENT_HASH_LENGTH } from '../platform/content-hash';
import { TOPIC_NAME } from './kafka';
import { DNS_LABEL, dnsLabel, dnsSubdomain } from './names';

// The names of the objects synth builds from a config field, in one place: the constructs name their
// objects with these functions, and the config is refused at synth when Kubernetes would refuse a name.

/** The objects named after kafka.name. */
export function kafkaObjectNames(name: string) {
  return {
    statefulSet: name,
    headlessService: `${name}-headless`,
    bootstrapService: `${name}-bootstrap`,
    // kafka.security: the admin Jobs' bootstrap, the brokers' certificate listener only (headless).
    adminService: `${name}-admin`,
    topicsJobPrefix: `${name}-topics`,
    rebalanceJobPrefix: `${name}-rebalance`,
    featuresJobPrefix: `${name}-features`,
    // kafka.security: the SCRAM users and ACLs of the app-ids and the verifier.
    usersJobPrefix: `${name}-users`,
    // The dedicated KRaft voters (kafka.dedicatedControllers).
    controllerStatefulSet: `${name}-controller`,
    controllerHeadlessService: `${name}-controller-headless`,
  };
}

/** The Jobs that run against PostgreSQL, each named `<postgres.name>-<job>-<content hash>`. */
export const POSTGRES_JOBS = ['migrations', 'seed', 'monitor'] as const;
export type PostgresJob = (typeof POSTGRES_JOBS)[number];

/** The CronJobs of the backups (postgres.backup), each named `<postgres.name>-<job>`. */
export const POSTGRES_CRON_JOBS = ['basebackup', 'dump'] as const;
export type PostgresCronJob = (typeof POSTGRES_CRON_JOBS)[number];

/** The objects named after postgres.name. */
export function postgresObjectNames(name: string) {
  return {
    statefulSet: name,
    service: name,
    headlessService: `${name}-headless`,
    jobPrefix: (job: PostgresJob) => `${name}-${job}`,
    cronJob: (job: PostgresCronJob) => `${name}-${job}`,
    /** The backup volume's claim and the ConfigMap of the server's backup files. */
    backupClaim: `${name}-backup`,
    serverFiles: `${name}-server-files`,
    /** A restore beside the live server (npm run restore): StatefulSet and Service names. */
    restore: (stamp: string) => `${name}-restore-${stamp}`,
  };
}

/**
 * A Dapr Subscription is named after its topic and the app-id it is scoped to (each app-id has its own pubsub
 * component): Kafka's '.' and '_' become '-', upper case lower case.
 */
export function subscriptionName(topic: string, appId: string): string {
  return `${topic.replace(/[._]/g, '-').toLowerCase()}-${appId}`;
}

/** A Service's in-cluster DNS name. */
export function serviceHost(service: string, namespace: string, clusterDomain: string): string {
  return `${service}.${namespace}.svc.${clusterDomain}`;
}

// What Kubernetes enforces on those names (k8s.io/kubernetes v1.34.4, the release the control-plane tests run):
// - Service: a DNS-1035 label, at most 63 characters and starting with a letter
//   (pkg/apis/core/validation/validation.go: ValidateServiceName = NameIsDNS1035Label).
// - StatefulSet: a DNS-1123 label (pkg/apis/apps/validation: ValidateStatefulSetName, whose TODO admits it
//   leaves no room for the pods' suffix). Every pod it creates carries the label controller-revision-hash =
//   '<name>-<hash>' (pkg/controller/statefulset/stateful_set_utils.go setPodRevision; the hash is
//   rand.SafeEncodeString of a uint32, up to 10 characters: pkg/controller/history HashControllerRevision),
//   and a label value has at most 63 characters: a longer name makes a StatefulSet the API accepts whose
//   pods are never created. At most 52, then; the pods' own names '<name>-<ordinal>' (their hostname and the
//   statefulset.kubernetes.io/pod-name label, at most 63) fit within that for up to 99 brokers.
// - Job: its pods carry its name in the job-name and batch.kubernetes.io/job-name labels
//   (pkg/apis/batch/validation/validation.go), so at most 63 characters, content hash included.
// - ConfigMap, PersistentVolumeClaim ('data-<statefulset>-<ordinal>'), PodDisruptionBudget, NetworkPolicy:
//   DNS-1123 subdomains of at most 253 characters, which the limits above keep them far below.
// - An in-cluster host name: at most 253 characters (RFC 1035), its labels are the names above.
// - A Dapr Subscription, a custom resource: a DNS-1123 subdomain (apiextensions-apiserver
//   pkg/registry/customresource/validator.go: NameIsDNSSubdomain), and one object per name.
const MAX_LABEL_VALUE = 63;
const MAX_REVISION_HASH = 10;

interface NameRule {
  readonly maxLength: number;
  readonly pattern?: RegExp;
  readonly why: string;
}

const SERVICE: NameRule = {
  maxLength: 63,
  pattern: /^[a-z]([-a-z0-9]*[a-z0-9])?$/,
  why: 'a Service name is a DNS-1035 label: at most 63 lower-case letters, digits and -, starting with a letter',
};
const STATEFUL_SET: NameRule = {
  maxLength: MAX_LABEL_VALUE - 1 - MAX_REVISION_HASH,
  why: `a StatefulSet's pods carry the label controller-revision-hash '<name>-<hash of up to ${MAX_REVISION_HASH} characters>', at most ${MAX_LABEL_VALUE} characters`,
};
const JOB: NameRule = { maxLength: MAX_LABEL_VALUE, why: `a Job's pods carry its name in the job-name label, at most ${MAX_LABEL_VALUE} characters` };
// pkg/apis/batch/validation ValidateCronJobCreate: the Jobs it creates append an 11-character suffix.
const CRON_JOB: NameRule = { maxLength: 52, why: 'a CronJob name has at most 52 characters (its Jobs append an 11-character suffix)' };
const HOST: NameRule = { maxLength: 253, why: 'a DNS name has at most 253 characters' };

interface DerivedName {
  /** What the name is, for the message: "the headless Service". */
  readonly object: string;
  /** The name as shown; a Job's content hash as a placeholder. */
  readonly name: string;
  readonly length: number;
  readonly rule: NameRule;
}

/** A config field and the names synth derives from its value. */
interface NamingField {
  readonly path: (string | number)[];
  readonly value: string;
  /** The field's own schema: a value it refuses has its own error, and is not judged again here. */
  readonly format: z.ZodType<string>;
  readonly names: readonly DerivedName[];
}

const named = (object: string, name: string, rule: NameRule): DerivedName => ({ object, name, length: name.length, rule });
const hashedJob = (object: string, prefix: string): DerivedName => ({
  object,
  name: `${prefix}-<hash>`,
  length: prefix.length + 1 + CONTENT_HASH_LENGTH,
  rule: JOB,
});

export interface NamingConfig {
  readonly platform: { readonly namespaces: { readonly kafka: string; readonly postgres: string }; readonly clusterDomain: string };
  readonly kafka: { readonly name: string; readonly brokers: number; readonly dedicatedControllers: boolean; readonly security: { readonly enabled: boolean } };
  readonly postgres: { readonly name: string };
  readonly dapr: { readonly subscriptions: readonly { readonly topic: string; readonly appIds: readonly string[] }[] };
}

function namingFields(config: NamingConfig): NamingField[] {
  const { platform } = config;
  const kafka = kafkaObjectNames(config.kafka.name);
  const postgres = postgresObjectNames(config.postgres.name);
  const lastBroker = `${kafka.statefulSet}-${config.kafka.brokers - 1}`;
  const nameOf = (component: 'kafka' | 'postgres', names: DerivedName[]): NamingField => ({
    path: [component, 'name'],
    value: config[component].name,
    format: dnsLabel,
    names,
  });
  return [
    nameOf('kafka', [
      named('the StatefulSet', kafka.statefulSet, STATEFUL_SET),
      named('the headless Service', kafka.headlessService, SERVICE),
      named('the bootstrap Service', kafka.bootstrapService, SERVICE),
      ...(config.kafka.security.enabled ? [named('the admin Service', kafka.adminService, SERVICE)] : []),
      hashedJob('the topics Job', kafka.topicsJobPrefix),
      hashedJob('the rebalance Job', kafka.rebalanceJobPrefix),
      hashedJob('the features Job', kafka.featuresJobPrefix),
      ...(config.kafka.security.enabled ? [hashedJob('the users Job', kafka.usersJobPrefix)] : []),
      ...(config.kafka.dedicatedControllers
        ? [named('the controller StatefulSet', kafka.controllerStatefulSet, STATEFUL_SET), named('the controller headless Service', kafka.controllerHeadlessService, SERVICE)]
        : []),
    ]),
    nameOf('postgres', [
      named('the StatefulSet', postgres.statefulSet, STATEFUL_SET),
      named('the Service', postgres.service, SERVICE),
      named('the headless Service', postgres.headlessService, SERVICE),
      ...POSTGRES_JOBS.map((job) => hashedJob(`the ${job} Job`, postgres.jobPrefix(job))),
      ...POSTGRES_CRON_JOBS.map((job) => named(`the ${job} CronJob`, postgres.cronJob(job), CRON_JOB)),
    ]),
    {
      path: ['platform', 'clusterDomain'],
      value: platform.clusterDomain,
      format: dnsSubdomain,
      names: [
        named(`the host name of broker ${lastBroker}`, `${lastBroker}.${serviceHost(kafka.headlessService, platform.namespaces.kafka, platform.clusterDomain)}`, HOST),
        named("PostgreSQL's host name", serviceHost(postgres.service, platform.namespaces.postgres, platform.clusterDomain), HOST),
      ],
    },
  ];
}

/** Refuses a config whose derived object names Kubernetes would refuse: one issue per field, with the length it may have. */
export function checkObjectNames(config: NamingConfig, ctx: z.RefinementCtx): void {
  for (const field of namingFields(config)) {
    if (!field.format.safeParse(field.value).success) continue;
    const misformed = field.names.find((derived) => derived.rule.pattern && !derived.rule.pattern.test(derived.name));
    const tooLong = field.names.filter((derived) => derived.length > derived.rule.maxLength);
    if (misformed) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: field.path, message: `makes ${misformed.object} '${misformed.name}', but ${misformed.rule.why}` });
    } else if (tooLong.length > 0) {
      // Each derived name holds the value once: what the others add to it is fixed.
      const maxLength = Math.min(...field.names.map((derived) => derived.rule.maxLength - (derived.length - field.value.length)));
      const [worst] = tooLong.sort((a, b) => b.length - b.rule.maxLength - (a.length - a.rule.maxLength));
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: field.path,
        message: `must be at most ${maxLength} characters: it makes ${worst.object} '${worst.name}' (${worst.length} characters), and ${worst.rule.why}`,
      });
    }
  }
  checkSubscriptionNames(config.dapr.subscriptions, ctx);
}

/** Subscription names from topic and app-id: 'learning.query' and 'learning-query' would make one object, '_x' an invalid one. */
function checkSubscriptionNames(subscriptions: NamingConfig['dapr']['subscriptions'], ctx: z.RefinementCtx): void {
  const named = new Map<string, string>();
  subscriptions.forEach(({ topic, appIds }, i) => {
    if (!TOPIC_NAME.test(topic)) return;
    const path = ['dapr', 'subscriptions', i, 'topic'];
    for (const appId of appIds) {
      const name = subscriptionName(topic, appId);
      const other = named.get(name);
      if (!DNS_LABEL.test(name)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path, message: `makes the Subscription '${name}', but a custom resource's name must start and end with a letter or digit` });
        return;
      }
      if (name.length > 253) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path, message: `makes the Subscription '${name}' (${name.length} characters), but a custom resource's name is at most 253` });
        return;
      }
      if (other !== undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path, message: `makes the Subscription '${name}', as the subscription to ${other} does: one would replace the other` });
        return;
      }
      named.set(name, `${topic} for ${appId}`);
    }
  });
}
