import type { K8sObject } from '../support/synth';

// PromQL words that look like metric names: operators, modifiers and aggregation clauses.
const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan']);

/** The metric names a PromQL expression selects (label matchers, strings, functions and durations left out). */
export function metricNamesOf(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    // by (a, b) / without (...) / on (...) / ignoring (...): label lists.
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = [...bare.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((match) => match[1]);
  return [...new Set(names.filter((name) => !PROMQL_KEYWORDS.has(name.toLowerCase())))];
}

/** Every PromQL expression of a synth: the PrometheusRule's alerts and the dashboards' panels. */
export function expressionsOf(objects: readonly K8sObject[]): { source: string; expr: string }[] {
  const rules = objects
    .filter((o) => o.kind === 'PrometheusRule')
    .flatMap((o) =>
      o.spec.groups.flatMap((group: { rules: { alert?: string; record?: string; expr: string }[] }) =>
        group.rules.map((rule) => ({ source: rule.alert ? `alert ${rule.alert}` : `record ${rule.record}`, expr: rule.expr })),
      ),
    );
  const panels = objects
    .filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1')
    .flatMap((o) =>
      Object.values(o.data as Record<string, string>).flatMap((json) => {
        const dashboard = JSON.parse(json) as { title: string; panels: { title: string; targets: { expr: string }[] }[] };
        return dashboard.panels.flatMap((panel) => panel.targets.map((target) => ({ source: `${dashboard.title} / ${panel.title}`, expr: target.expr })));
      }),
    );
  return [...rules, ...panels];
}

/**
 * The metric names the alerts and dashboards of a synth use, each with where it is used; the series the
 * PrometheusRule records itself are not scraped from anything and left out.
 */
export function usedMetricNames(objects: readonly K8sObject[]): Map<string, string[]> {
  const recorded = new Set(
    objects.filter((o) => o.kind === 'PrometheusRule').flatMap((o) => o.spec.groups.flatMap((group: { rules: { record?: string }[] }) => group.rules.flatMap((rule) => rule.record ?? []))),
  );
  const used = new Map<string, string[]>();
  for (const { source, expr } of expressionsOf(objects)) {
    for (const name of metricNamesOf(expr).filter((candidate) => !recorded.has(candidate))) used.set(name, [...(used.get(name) ?? []), source]);
  }
  return used;
}

/**
 * Where each metric family comes from, and whether a test scrapes it from a real engine
 * (test/kafka-production.test.ts, test/observability-postgres.test.ts). kube-state-metrics' and the
 * kubelet's come with every kube-prometheus-stack install and have no engine here.
 */
export const METRIC_SOURCES = [
  { prefix: /^(kafka|jvm)_/, source: 'the Kafka brokers\' OpenTelemetry agent', scrapedInTests: true },
  { prefix: /^pg_/, source: 'postgres_exporter', scrapedInTests: true },
  { prefix: /^kube_(job|cronjob|pod_container_state)_/, source: 'kube-state-metrics', scrapedInTests: false },
  { prefix: /^certmanager_certificate_/, source: "cert-manager's controller (its Helm chart's prometheus.servicemonitor)", scrapedInTests: false },
  { prefix: /^kubelet_volume_stats_/, source: 'the kubelet', scrapedInTests: false },
] as const;
