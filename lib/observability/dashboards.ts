/** A Grafana time-series panel: its title, unit and the PromQL of each series. */
interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly queries: readonly { readonly expr: string; readonly legend: string }[];
}

export interface Dashboard {
  /** The ConfigMap key and Grafana's uid. */
  readonly uid: string;
  /** The namespace of what it shows, where its ConfigMap goes. */
  readonly namespace: string;
  readonly title: string;
  readonly panels: readonly Panel[];
}

export interface DashboardsProps {
  readonly kafkaNamespace: string;
  readonly postgresNamespace: string;
}

/**
 * LearnFlow's dashboards. Every metric name they use is checked against real scrapes
 * (test/observability-metric-names.test.ts), like the alerts'.
 */
export function dashboards(props: DashboardsProps): Dashboard[] {
  const kafka = `namespace="${props.kafkaNamespace}"`;
  const postgres = `namespace="${props.postgresNamespace}"`;
  return [
    {
      uid: 'learnflow-kafka-cluster',
      namespace: props.kafkaNamespace,
      title: 'LearnFlow / Kafka cluster',
      panels: [
        {
          title: 'Partitions: under-replicated, under min ISR, offline',
          unit: 'short',
          queries: [
            { expr: `sum(kafka_partition_under_replicated{${kafka}})`, legend: 'under-replicated' },
            { expr: `sum(kafka_partition_under_min_isr{${kafka}})`, legend: 'under min.insync.replicas' },
            { expr: `sum(kafka_partition_offline{${kafka}})`, legend: 'offline' },
          ],
        },
        { title: 'Active controllers (must be 1)', unit: 'short', queries: [{ expr: `sum(kafka_controller_active_count{${kafka}})`, legend: 'active' }] },
        {
          title: 'Partitions and leaders per broker',
          unit: 'short',
          queries: [
            { expr: `sum by (pod) (kafka_partition_count{${kafka}})`, legend: '{{pod}} partitions' },
            { expr: `sum by (pod) (kafka_partition_leader_count{${kafka}})`, legend: '{{pod}} leaders' },
          ],
        },
        {
          title: 'Requests per second (failed dashed)',
          unit: 'reqps',
          queries: [
            { expr: `sum by (pod, type) (rate(kafka_request_count_total{${kafka}}[5m]))`, legend: '{{pod}} {{type}}' },
            { expr: `sum by (pod, type) (rate(kafka_request_failed_total{${kafka}}[5m]))`, legend: '{{pod}} {{type}} failed' },
          ],
        },
        { title: 'Metadata apply lag', unit: 'ms', queries: [{ expr: `max by (pod) (kafka_metadata_apply_lag_milliseconds{${kafka}})`, legend: '{{pod}}' }] },
        {
          title: 'JVM heap used / limit',
          unit: 'bytes',
          queries: [
            { expr: `sum by (pod) (jvm_memory_used_bytes{${kafka}, jvm_memory_type="heap"})`, legend: '{{pod}} used' },
            { expr: `sum by (pod) (jvm_memory_limit_bytes{${kafka}, jvm_memory_type="heap"})`, legend: '{{pod}} limit' },
          ],
        },
        { title: 'JVM GC time per second', unit: 's', queries: [{ expr: `sum by (pod) (rate(jvm_gc_duration_seconds_sum{${kafka}}[5m]))`, legend: '{{pod}}' }] },
        { title: 'JVM CPU utilization', unit: 'percentunit', queries: [{ expr: `max by (pod) (jvm_cpu_recent_utilization{${kafka}})`, legend: '{{pod}}' }] },
      ],
    },
    {
      uid: 'learnflow-kafka-topics',
      namespace: props.kafkaNamespace,
      title: 'LearnFlow / Kafka topics',
      panels: [
        { title: 'Messages in per topic', unit: 'short', queries: [{ expr: `sum by (topic) (rate(kafka_topic_messages_in_total{${kafka}}[5m]))`, legend: '{{topic}}' }] },
        { title: 'Bytes in per topic', unit: 'Bps', queries: [{ expr: `sum by (topic) (rate(kafka_topic_io_bytes_total{${kafka}, direction="in"}[5m]))`, legend: '{{topic}}' }] },
        { title: 'Bytes out per topic (consumers and replication)', unit: 'Bps', queries: [{ expr: `sum by (topic) (rate(kafka_topic_io_bytes_total{${kafka}, direction="out"}[5m]))`, legend: '{{topic}}' }] },
        { title: 'Log size per topic (all replicas)', unit: 'bytes', queries: [{ expr: `sum by (topic) (kafka_log_size_bytes{${kafka}})`, legend: '{{topic}}' }] },
      ],
    },
    {
      uid: 'learnflow-postgres',
      namespace: props.postgresNamespace,
      title: 'LearnFlow / PostgreSQL',
      panels: [
        { title: 'Up', unit: 'short', queries: [{ expr: `pg_up{${postgres}}`, legend: 'up' }] },
        {
          title: 'Connections by state / max_connections',
          unit: 'short',
          queries: [
            { expr: `sum by (state) (pg_stat_activity_count{${postgres}})`, legend: '{{state}}' },
            { expr: `max(pg_settings_max_connections{${postgres}})`, legend: 'max_connections' },
          ],
        },
        {
          title: 'Transactions per second by database',
          unit: 'short',
          queries: [
            { expr: `sum by (datname) (rate(pg_stat_database_xact_commit{${postgres}}[5m]))`, legend: '{{datname}} commit' },
            { expr: `sum by (datname) (rate(pg_stat_database_xact_rollback{${postgres}}[5m]))`, legend: '{{datname}} rollback' },
          ],
        },
        { title: 'Database size', unit: 'bytes', queries: [{ expr: `pg_database_size_bytes{${postgres}}`, legend: '{{datname}}' }] },
        { title: 'Deadlocks per second', unit: 'short', queries: [{ expr: `sum by (datname) (rate(pg_stat_database_deadlocks{${postgres}}[5m]))`, legend: '{{datname}}' }] },
      ],
    },
  ];
}

/** A dashboard as Grafana's JSON model (schemaVersion 39), on a Prometheus data source chosen by a variable. */
export function grafanaJson(dashboard: Dashboard): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${datasource} is Grafana's variable syntax.
  const datasource = { type: 'prometheus', uid: '${datasource}' };
  const model = {
    uid: dashboard.uid,
    title: dashboard.title,
    tags: ['learnflow'],
    editable: false,
    schemaVersion: 39,
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    templating: { list: [{ name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Data source' }] },
    panels: dashboard.panels.map((panel, i) => ({
      id: i + 1,
      type: 'timeseries',
      title: panel.title,
      datasource,
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
      targets: panel.queries.map((query, j) => ({ refId: String.fromCharCode(65 + j), datasource, expr: query.expr, legendFormat: query.legend })),
    })),
  };
  return `${JSON.stringify(model, null, 2)}\n`;
}
