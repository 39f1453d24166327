import { z } from 'zod';
import { dnsLabel, pinnedImage } from './names';
import { rotatableRoleName } from './postgres';
import { resources } from './resources';

// Label keys and values as Kubernetes accepts them (a prefix/name key, a value of at most 63 characters).
const labelKey = z.string().regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, 'must be a Kubernetes label key');
const labelValue = z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, 'must be a Kubernetes label value');
const labels = z.record(labelKey, labelValue);

export const observabilityConfig = z
  .object({
    /** Metrics agents and exporters, scrape targets, alert rules and dashboards. prometheus-operator's CRDs are a prerequisite when on. */
    enabled: z.boolean(),
    /** Where Prometheus runs: the metrics ports admit these pods only. */
    scraper: z
      .object({
        namespace: dnsLabel,
        /** Labels of the Prometheus pods in that namespace; {} admits every pod of the namespace. */
        podLabels: labels,
      })
      .strict(),
    /** Labels on the PodMonitors and PrometheusRule that the Prometheus resource selects them by (kube-prometheus-stack: release). */
    selectorLabels: labels,
    /** The OpenTelemetry Java agent inside every Kafka broker JVM, copied out of the OpenTelemetry operator's image. */
    kafkaAgent: z.object({ image: pinnedImage, port: z.number().int().min(1024).max(65535) }).strict(),
    /** prometheus-community's postgres_exporter, a Deployment beside the server. */
    postgresExporter: z.object({ image: pinnedImage, role: rotatableRoleName, resources }).strict(),
  })
  .strict();

export type ObservabilityConfigInput = z.input<typeof observabilityConfig>;

export const observabilityDefaults: ObservabilityConfigInput = {
  enabled: false,
  scraper: { namespace: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'prometheus' } },
  selectorLabels: { release: 'kube-prometheus-stack' },
  // The image the OpenTelemetry operator injects with: busybox plus /javaagent.jar, the agent release
  // io.opentelemetry.javaagent:opentelemetry-javaagent of the same version on Maven Central.
  kafkaAgent: { image: 'ghcr.io/open-telemetry/opentelemetry-operator/autoinstrumentation-java:2.33.1', port: 9464 },
  // v0.11.1: the release the test harness runs (Debian's prometheus-postgres-exporter; the Go module proxy
  // does not serve this module), so the pinned image runs the code that was proven.
  postgresExporter: {
    image: 'quay.io/prometheuscommunity/postgres-exporter:v0.11.1',
    role: 'learnflow_monitor',
    resources: { requests: { cpu: '20m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
  },
};

export const observabilityProfiles = {
  // Opt-in on minikube: prometheus-operator is rarely installed there.
  minikube: {},
  production: { enabled: true },
} satisfies Record<string, Partial<ObservabilityConfigInput>>;
