import { Construct } from 'constructs';
import { PodMonitor } from '../../imports/prometheus-podmonitor-monitoring.coreos.com';
import { PrometheusRule, PrometheusRuleSpecGroupsRulesExpr } from '../../imports/prometheus-rule-monitoring.coreos.com';
import type { ObservabilityConfig } from '../config/schema';
import * as k8s from '../platform/k8s';
import { IntOrString } from '../platform/k8s';
import { appLabels } from '../platform/labels';
import { type AlertRulesProps, alertRuleGroups } from './alert-rules';
import { dashboards, grafanaJson } from './dashboards';

/** A set of pods exposing Prometheus metrics on a named container port. */
export interface ScrapeTarget {
  /** Names the PodMonitor and the NetworkPolicy. */
  readonly name: string;
  readonly namespace: string;
  readonly podSelector: Record<string, string>;
  readonly portName: string;
  readonly port: number;
}

export interface ScrapeTargetsProps {
  readonly config: ObservabilityConfig;
  readonly targets: readonly ScrapeTarget[];
}

/**
 * One PodMonitor per target, and the NetworkPolicy that admits the scraper (pods with its labels in its
 * namespace) to the metrics port and nothing else.
 */
export class ScrapeTargets extends Construct {
  constructor(scope: Construct, id: string, props: ScrapeTargetsProps) {
    super(scope, id);
    const { scraper, selectorLabels } = props.config;
    for (const target of props.targets) {
      const labels = appLabels(target.name, 'metrics');
      new PodMonitor(this, `${target.name}-monitor`, {
        metadata: { name: target.name, namespace: target.namespace, labels: { ...labels, ...selectorLabels } },
        spec: {
          selector: { matchLabels: target.podSelector },
          namespaceSelector: { matchNames: [target.namespace] },
          podMetricsEndpoints: [{ port: target.portName, path: '/metrics', interval: '30s', scrapeTimeout: '10s' }],
        },
      });
      new k8s.KubeNetworkPolicy(this, `${target.name}-scraper`, {
        // The scraper's namespace belongs to the Prometheus install, not to dist/: said so for the verifier.
        metadata: { name: `${target.name}-metrics`, namespace: target.namespace, labels, annotations: { 'learnflow.dev/prerequisite-namespace': scraper.namespace } },
        spec: {
          podSelector: { matchLabels: target.podSelector },
          policyTypes: ['Ingress'],
          ingress: [
            {
              // One peer with both selectors: pods with these labels *in* that namespace.
              from: [
                {
                  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': scraper.namespace } },
                  podSelector: { matchLabels: scraper.podLabels },
                },
              ],
              ports: [{ protocol: 'TCP', port: IntOrString.fromNumber(target.port) }],
            },
          ],
        },
      });
    }
  }
}

export interface AlertsAndDashboardsProps extends AlertRulesProps {
  readonly config: ObservabilityConfig;
}

/** The PrometheusRule with LearnFlow's alerts, and the dashboards as ConfigMaps for Grafana's sidecar. */
export class AlertsAndDashboards extends Construct {
  constructor(scope: Construct, id: string, props: AlertsAndDashboardsProps) {
    super(scope, id);
    const labels = appLabels('learnflow', 'alerts');
    new PrometheusRule(this, 'Rules', {
      metadata: { name: 'learnflow', namespace: props.kafkaNamespace, labels: { ...labels, ...props.config.selectorLabels } },
      spec: {
        groups: alertRuleGroups(props).map((group) => ({
          name: group.name,
          rules: [
            ...(group.records ?? []).map((rule) => ({ record: rule.record, expr: PrometheusRuleSpecGroupsRulesExpr.fromString(rule.expr), labels: { ...rule.labels } })),
            ...group.rules.map((rule) => ({
              alert: rule.alert,
              expr: PrometheusRuleSpecGroupsRulesExpr.fromString(rule.expr),
              for: rule.for,
              labels: { severity: rule.severity },
              annotations: { summary: rule.summary, runbook: rule.runbook },
            })),
          ],
        })),
      },
    });
    for (const dashboard of dashboards(props)) {
      new k8s.KubeConfigMap(this, dashboard.uid, {
        // grafana_dashboard: the label kube-prometheus-stack's Grafana sidecar looks for (its default); the
        // sidecar must search these namespaces (sidecar.dashboards.searchNamespace: ALL), as dist/ does not own Grafana's.
        metadata: { name: dashboard.uid, namespace: dashboard.namespace, labels: { ...appLabels('learnflow', 'dashboard'), grafana_dashboard: '1' } },
        data: { [`${dashboard.uid}.json`]: grafanaJson(dashboard) },
      });
    }
  }
}
