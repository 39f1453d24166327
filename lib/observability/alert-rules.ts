/** One alerting rule: what Prometheus evaluates, and the runbook an operator paged by it reads. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly severity: 'critical' | 'warning';
  readonly summary: string;
  /** What to look at and what to do, in order. */
  readonly runbook: string;
}

/** A recording rule: a series Prometheus computes (here, constants synth knows and the cluster does not). */
export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface AlertRuleGroup {
  readonly name: string;
  readonly records?: readonly RecordingRule[];
  readonly rules: readonly AlertRule[];
}

export interface AlertRulesProps {
  readonly kafkaNamespace: string;
  readonly postgresNamespace: string;
  /** The Kafka StatefulSet's name: its volume claims are data-<name>-<ordinal>. */
  /** The brokers' StatefulSet and, with dedicated controllers, the voters'. */
  readonly kafkaStatefulSets: readonly string[];
  readonly postgresStatefulSet: string;
  /** Name prefixes of the LearnFlow Jobs (their names end in a content hash). */
  readonly jobPrefixes: readonly string[];
  /** The topics the topics Job declares, and their partition counts. */
  readonly declaredTopics: readonly { readonly name: string; readonly partitions: number }[];
  /** PostgreSQL archives its WAL (postgres.backup.enabled). */
  readonly walArchiving: boolean;
  /** The backup volume's claim (postgres.backup.enabled). */
  readonly backupClaim?: string;
  /** The backup CronJobs, each with the age of its newest success beyond which a run was missed. */
  readonly backups: readonly { readonly cronJob: string; readonly what: string; readonly maxAgeSeconds: number }[];
  /**
   * The Kafka nodes' cert-manager Certificate (kafka.security with source cert-manager), whose renewals the KRaft
   * client connections do not pick up (KAFKA-20025): the nodes must restart within `renewBefore` of each.
   */
  readonly kafkaNodeCertificate?: { readonly name: string; readonly renewBeforeSeconds: number };
}

/** How long after a Secret changes a pod may still start with its old content: the kubelet's sync period plus its cache TTL, about a minute each. */
const KUBELET_SECRET_SYNC_SECONDS = 300;

/** The recorded series of a declared topic's partition count (one series per topic, label `topic`). */
export const DECLARED_PARTITIONS = 'learnflow:kafka_topic_declared_partitions';

/**
 * LearnFlow's alerts. Metric names: kafka_* and jvm_* from the brokers' OpenTelemetry agent
 * (lib/observability/kafka-jmx-metrics.yaml), pg_* from postgres_exporter, kube_* from kube-state-metrics
 * and kubelet_* from the kubelet (both scraped by a stock kube-prometheus-stack install). Each rule is
 * unit-tested with promtool, firing and not firing (test/observability/alert-rules.test.yaml).
 */
export function alertRuleGroups(props: AlertRulesProps): AlertRuleGroup[] {
  const kafka = `namespace="${props.kafkaNamespace}"`;
  const postgres = `namespace="${props.postgresNamespace}"`;
  const volumeFree = (namespace: string, statefulSets: readonly string[]) => {
    const claims = `persistentvolumeclaim=~"data-(${statefulSets.join('|')})-[0-9]+"`;
    return `kubelet_volume_stats_available_bytes{namespace="${namespace}", ${claims}} / kubelet_volume_stats_capacity_bytes{namespace="${namespace}", ${claims}}`;
  };
  return [
    {
      name: 'learnflow-kafka',
      rules: [
        {
          alert: 'KafkaOfflinePartitions',
          expr: `sum(kafka_partition_offline{${kafka}}) > 0`,
          for: '1m',
          severity: 'critical',
          summary: '{{ $value }} Kafka partitions have no leader: producing to and consuming from them fails',
          runbook:
            'Find the partitions: kafka-topics.sh --describe --unavailable-partitions. Their replicas are all on brokers that are down: ' +
            'kubectl -n kafka get pods; bring those brokers back (their PVCs hold the data). Never enable unclean leader election to get out of it: it loses acknowledged messages.',
        },
        {
          alert: 'KafkaUnderMinIsrPartitions',
          expr: `sum(kafka_partition_under_min_isr{${kafka}}) > 0`,
          for: '1m',
          severity: 'critical',
          summary: '{{ $value }} partitions have fewer in-sync replicas than min.insync.replicas: acks=all producers (Dapr) get NotEnoughReplicas',
          runbook:
            'Usually a broker is down or cannot keep up. kubectl -n kafka get pods; kafka-topics.sh --describe --under-min-isr-partitions. ' +
            'Do not roll or drain another broker until this clears.',
        },
        {
          alert: 'KafkaUnderReplicatedPartitions',
          expr: `sum(kafka_partition_under_replicated{${kafka}}) > 0`,
          for: '5m',
          severity: 'warning',
          summary: '{{ $value }} partitions have a replica out of sync for 5 minutes',
          runbook:
            'A broker is down, restarting or lagging. kubectl -n kafka get pods; kafka-topics.sh --describe --under-replicated-partitions shows which replica is missing. ' +
            'A broker catching up after a restart clears this by itself; one that stays behind: check its disk, CPU throttling and logs.',
        },
        {
          alert: 'KafkaNoActiveController',
          expr: `sum(kafka_controller_active_count{${kafka}}) != 1`,
          for: '1m',
          severity: 'critical',
          summary: 'The KRaft quorum reports {{ $value }} active controllers instead of 1: no topic, partition or broker change can happen',
          runbook:
            'A majority of the controller voters must be up. kubectl -n kafka get pods; kafka-metadata-quorum.sh --bootstrap-server <broker> describe --status. ' +
            'Bring the missing voters back; never re-format a voter\'s storage.',
        },
        {
          alert: 'KafkaMetadataLagging',
          expr: `max by (pod) (kafka_metadata_apply_lag_milliseconds{${kafka}}) > 30000`,
          for: '5m',
          severity: 'warning',
          summary: 'Broker {{ $labels.pod }} applies the quorum\'s metadata {{ $value }} ms late',
          runbook:
            'The broker cannot follow the controller quorum (network, GC pauses, CPU throttling). kafka-metadata-quorum.sh describe --replication shows each voter\'s lag; ' +
            'check the pod\'s CPU limit and JVM GC time (Kafka cluster dashboard).',
        },
        ...(props.kafkaNodeCertificate ? kafkaCertificateRules(props.kafkaNamespace, props.kafkaStatefulSets, props.kafkaNodeCertificate) : []),
        {
          alert: 'KafkaBrokerDiskFilling',
          expr: `(${volumeFree(props.kafkaNamespace, props.kafkaStatefulSets)}) < 0.15`,
          for: '10m',
          severity: 'warning',
          summary: 'Kafka volume {{ $labels.persistentvolumeclaim }} has {{ $value | humanizePercentage }} free',
          runbook:
            'A full log directory stops the broker. Look for the topics that grow (LearnFlow topics dashboard, log size); lower their retention in the config and re-run the topics Job, ' +
            'or grow the volume (npm run diff shows the storage change, npm run deploy carries it out).',
        },
      ],
    },
    {
      // The topics Job creates and grows the declared topics when it runs (on a deploy); nothing keeps them
      // so in between. Partitions per topic as the brokers report them: every replica's log is a
      // kafka_log_size_bytes series, one partition however many replicas.
      name: 'learnflow-kafka-topics',
      records: props.declaredTopics.map((topic) => ({ record: DECLARED_PARTITIONS, expr: `vector(${topic.partitions})`, labels: { topic: topic.name } })),
      rules: [
        {
          alert: 'KafkaTopicMissing',
          // Only while some broker reports log sizes at all: no series (the scrape broken, every broker down) is
          // what the Kafka and scrape alerts report, not ten missing topics.
          expr:
            `${DECLARED_PARTITIONS} unless on (topic) count by (topic) (kafka_log_size_bytes{${kafka}})` +
            ` and on () count(kafka_log_size_bytes{${kafka}}) > 0`,
          for: '15m',
          severity: 'critical',
          summary: 'Kafka topic {{ $labels.topic }} is declared but no broker has it: its producers and consumers fail',
          runbook:
            'kafka-topics.sh --describe --topic {{ $labels.topic }}: deleted by hand, or the topics Job has not run since it was declared. ' +
            `kubectl -n ${props.kafkaNamespace} get jobs shows the topics Job of this dist/ and whether it completed; re-apply dist/ (npm run deploy) to run it. ` +
            'A deleted topic lost its messages: consumers resume from their committed offsets only if they were not past the new log end.',
        },
        {
          alert: 'KafkaTopicPartitionsDrift',
          expr: `count by (topic) (max by (topic, partition) (kafka_log_size_bytes{${kafka}})) != on (topic) ${DECLARED_PARTITIONS}`,
          for: '15m',
          severity: 'warning',
          summary: 'Kafka topic {{ $labels.topic }} has {{ $value }} partitions, not the number the config declares',
          runbook:
            'Partitions were added by hand (kafka-topics.sh --alter), or a declared increase has not been applied: the topics Job grows a topic but never shrinks one (it only warns). ' +
            'Make the config match the cluster (kafka.topics[].partitions, npm run synth) or re-apply dist/ so the Job grows it. Key-based ordering changes when partitions are added.',
        },
      ],
    },
    {
      name: 'learnflow-postgres',
      rules: [
        {
          alert: 'PostgresDown',
          expr: `pg_up{${postgres}} == 0`,
          for: '1m',
          severity: 'critical',
          summary: 'postgres_exporter cannot reach PostgreSQL: the LearnFlow services and Dapr state store are failing',
          runbook:
            `kubectl -n ${props.postgresNamespace} get pods; kubectl -n ${props.postgresNamespace} logs statefulset/${props.postgresStatefulSet}. ` +
            'Crash recovery after an unclean stop can take minutes (the startup probe allows it). A full volume stops it: see PostgresDiskFilling.',
        },
        {
          alert: 'PostgresConnectionsNearMax',
          expr:
            `sum by (namespace) (pg_stat_activity_count{${postgres}})` +
            ` / max by (namespace) (pg_settings_max_connections{${postgres}}) > 0.8`,
          for: '5m',
          severity: 'warning',
          summary: 'PostgreSQL uses {{ $value | humanizePercentage }} of max_connections',
          runbook:
            'New connections fail at max_connections. SELECT usename, application_name, state, count(*) FROM pg_stat_activity GROUP BY 1, 2, 3 shows who holds them; ' +
            'a service leaking connections, or too many replicas with large pools. Raise postgres.maxConnections only with the memory plan (README).',
        },
        {
          alert: 'PostgresDiskFilling',
          expr: `(${volumeFree(props.postgresNamespace, [props.postgresStatefulSet])}) < 0.15`,
          for: '10m',
          severity: 'warning',
          summary: 'PostgreSQL volume {{ $labels.persistentvolumeclaim }} has {{ $value | humanizePercentage }} free',
          runbook:
            'PostgreSQL stops accepting writes when the volume is full. Check for WAL piling up (archiving failing, an abandoned replication slot) and table bloat; grow the volume.',
        },
        ...(props.backupClaim
          ? [
              {
                alert: 'PostgresBackupVolumeFilling',
                expr:
                  `kubelet_volume_stats_available_bytes{${postgres}, persistentvolumeclaim="${props.backupClaim}"}` +
                  ` / kubelet_volume_stats_capacity_bytes{${postgres}, persistentvolumeclaim="${props.backupClaim}"} < 0.2`,
                for: '30m',
                severity: 'warning' as const,
                summary: 'The PostgreSQL backup volume has {{ $value | humanizePercentage }} free: base backups will be refused, then WAL archiving fails',
                runbook:
                  'A base backup needs the databases\' size free beside the kept ones (it removes the oldest only after a new one succeeded), and WAL is kept back to the oldest kept backup. ' +
                  'Grow postgres.backup.storage.size (npm run diff, npm run deploy), or lower postgres.backup.retention. When archiving fails, PostgreSQL keeps the WAL on its data volume: see PostgresDiskFilling.',
              },
            ]
          : []),
        ...(props.walArchiving
          ? [
              {
                alert: 'PostgresWalArchivingFailing',
                // Failures and no success in the same window: an idle server archives nothing and fails nothing.
                expr:
                  `increase(pg_stat_archiver_failed_count{${postgres}}[10m]) > 0` +
                  ` and on (namespace, pod) increase(pg_stat_archiver_archived_count{${postgres}}[10m]) == 0`,
                for: '5m',
                severity: 'critical' as const,
                summary: 'PostgreSQL fails to archive its WAL: point-in-time restore stops at the last archived segment, and WAL piles up on the data volume',
                runbook:
                  `kubectl -n ${props.postgresNamespace} logs statefulset/${props.postgresStatefulSet} | grep archive: the archive command says why (backup volume full, not mounted, a segment already archived with other content). ` +
                  'SELECT * FROM pg_stat_archiver shows the last failed segment. The primary keeps every unarchived segment (nothing is lost) until the data volume fills: see PostgresDiskFilling. ' +
                  'npm run verify -- --live reports it too (postgres-live-archiver).',
              },
            ]
          : []),
        ...props.backups.map((backup) => ({
          alert: 'PostgresBackupTooOld',
          // The last success is no series until the first one: then the CronJob's age stands in for it.
          expr:
            `time() - kube_cronjob_status_last_successful_time{${postgres}, cronjob="${backup.cronJob}"} > ${backup.maxAgeSeconds}` +
            ` or (time() - kube_cronjob_created{${postgres}, cronjob="${backup.cronJob}"} > ${backup.maxAgeSeconds}` +
            ` unless on (namespace, cronjob) kube_cronjob_status_last_successful_time{${postgres}, cronjob="${backup.cronJob}"})`,
          for: '10m',
          severity: 'warning' as const,
          summary: `No PostgreSQL ${backup.what} ({{ $labels.cronjob }}) has succeeded for {{ $value | humanizeDuration }}: a scheduled run was missed or failed`,
          runbook:
            `kubectl -n ${props.postgresNamespace} get cronjob,jobs: its runs are the Jobs ${backup.cronJob}-<minute>; the logs of the last failed one say why ` +
            '(pg_verifybackup, the backup volume full, the server unreachable). A suspended CronJob runs nothing. Until it succeeds, a restore starts from an older backup and replays more WAL. ' +
            'npm run verify -- --live reports it too (live-cronjobs-recent).',
        })),
      ],
    },
    {
      name: 'learnflow-jobs',
      rules: [
        {
          alert: 'LearnflowJobFailed',
          // The Job's Failed condition (kube-state-metrics' kube_job_failed, condition="true"): the Job gave up
          // (backoffLimit or activeDeadlineSeconds). Not kube_job_status_failed, which counts failed pods and
          // stays above 0 for a Job whose retry then succeeded.
          expr:
            `kube_job_failed{condition="true", namespace=~"${props.kafkaNamespace}|${props.postgresNamespace}", ` +
            `job_name=~"${props.jobPrefixes.map((prefix) => `${prefix}-.*`).join('|')}"} == 1`,
          for: '0m',
          severity: 'warning',
          summary: 'LearnFlow Job {{ $labels.namespace }}/{{ $labels.job_name }} failed',
          runbook:
            'kubectl -n {{ $labels.namespace }} logs job/{{ $labels.job_name }}. The topics Job reports each topic it could not reconcile; the migrations Job names the migration ' +
            'and the SQL error (a changed, already applied migration is refused on purpose). Fix the config or SQL, npm run synth, re-apply: the Job gets a new name.',
        },
      ],
    },
  ];
}

/**
 * A Kafka container that started before the nodes' certificate was last issued: its KRaft client connections
 * (a broker to the voters, a voter to the leader) still present the previous certificate, since Kafka 4.3.1 does
 * not reload them (KAFKA-20025), and a new such connection is refused once that one expires, about `renewBefore`
 * after the renewal. The issue time is cert-manager's certmanager_certificate_not_before_timestamp_seconds
 * (cert-manager >= 1.18, from the Certificate's status.notBefore); kube-state-metrics gives the container's start
 * (kube_pod_container_state_started), so a restarted container clears it, unless it started within 5 minutes of
 * the issue, before the kubelet had synced the renewed Secret into the pod. cert-manager's chart scrapes with
 * honorLabels false by default, which renames the Certificate's namespace label to exported_namespace: both
 * layouts are read. Without the series the comparison is empty, so a second alert says the age cannot be judged.
 */
function kafkaCertificateRules(kafkaNamespace: string, statefulSets: readonly string[], certificate: NonNullable<AlertRulesProps['kafkaNodeCertificate']>): AlertRule[] {
  const metric = 'certmanager_certificate_not_before_timestamp_seconds';
  const issued =
    `max by (namespace) (${metric}{namespace="${kafkaNamespace}", name="${certificate.name}"}` +
    ` or label_replace(${metric}{exported_namespace="${kafkaNamespace}", name="${certificate.name}"}, "namespace", "$1", "exported_namespace", "(.+)"))`;
  const days = Math.round(certificate.renewBeforeSeconds / 86400);
  return [
    {
      alert: 'KafkaNodeOlderThanItsCertificate',
      expr:
        `max by (namespace, pod) (kube_pod_container_state_started{namespace="${kafkaNamespace}", pod=~"(${statefulSets.join('|')})-[0-9]+", container="kafka"})` +
        ` < on (namespace) group_left () (${issued} + ${KUBELET_SECRET_SYNC_SECONDS})`,
      // Not at once: a renewal during a roll, or a roll planned for the same day, clears it without a page.
      for: '6h',
      severity: 'warning',
      summary: `Kafka pod {{ $labels.pod }} started before certificate ${certificate.name} was renewed: its KRaft connections are refused once the previous certificate expires, about ${days} days after the renewal`,
      runbook:
        `The KRaft client connections keep the certificate the node started with (KAFKA-20025). Roll the nodes one at a time, within ${days} days of the renewal: ` +
        `kubectl -n {{ $labels.namespace }} rollout restart ${statefulSets.map((name) => `statefulset/${name}`).join(' ')}, then kubectl -n {{ $labels.namespace }} rollout status each. ` +
        `When: kubectl -n {{ $labels.namespace }} get certificate ${certificate.name} -o jsonpath='{.status.notBefore}' plus ${days} days. Any upgrade or configuration roll counts.`,
    },
    {
      alert: 'KafkaCertificateAgeUnknown',
      expr: `absent(${metric}{namespace="${kafkaNamespace}", name="${certificate.name}"}) and on (name) absent(${metric}{exported_namespace="${kafkaNamespace}", name="${certificate.name}"})`,
      for: '1h',
      severity: 'warning',
      summary: `No issue time of certificate ${certificate.name} is scraped: KafkaNodeOlderThanItsCertificate cannot tell when the Kafka nodes must be rolled`,
      runbook:
        `Scrape cert-manager (>= 1.18): its Helm chart's prometheus.servicemonitor.enabled=true (or prometheus.podmonitor.enabled=true). ` +
        `Check that the Certificate exists and is Ready: kubectl -n ${kafkaNamespace} get certificate ${certificate.name}. Until then, roll the Kafka StatefulSets after each renewal by hand.`,
    },
  ];
}
