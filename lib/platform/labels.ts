/** Kubernetes recommended labels (kubernetes.io/docs/concepts/overview/working-with-objects/common-labels). */
export function appLabels(name: string, component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'learnflow',
    'app.kubernetes.io/managed-by': 'learnflow-infra',
  };
}

/** The subset of labels that selects pods: stable forever, since selectors are immutable. */
export function selectorLabels(name: string, component: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/component': component };
}

/** The label on every Namespace of dist/ that names the profile it was synthesized with (what the verifier judges by). */
export const PROFILE_LABEL = 'learnflow.io/profile';

/** On the Kafka StatefulSets when kafka.security.insecurePlaintextInProduction lets them run unauthenticated (the verifier reads it). */
export const KAFKA_INSECURE_ANNOTATION = 'learnflow.io/kafka-insecure-plaintext-in-production';
