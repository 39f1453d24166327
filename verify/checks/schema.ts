import { KUBERNETES_VERSION, type StaticContext } from '../context';
import { type Check, type CheckResult, type DistObject, fail, formatRef, pass, refOf, skip } from '../model';

const isDapr = (item: DistObject) => item.object.apiVersion.startsWith('dapr.io/');
const isPrometheusOperator = (item: DistObject) => item.object.apiVersion.startsWith('monitoring.coreos.com/');

function validateAll(context: StaticContext, items: readonly DistObject[]): CheckResult[] {
  const schemas = context.reference.schemas();
  return items.map((item) => {
    const ref = refOf(item);
    const errors = schemas.validate(item.object);
    if (errors === undefined) {
      // Not "the API server would reject it": the vendored schema keeps only the kinds LearnFlow emits and the verifier judges.
      const reason = 'a kind the API server does not know, or one the vendored reference/ leaves out (reference/README.md)';
      return fail([ref], `${formatRef(ref)} (${item.file}): no schema for ${item.object.apiVersion} ${item.object.kind} in the reference data: ${reason}`);
    }
    return errors.length === 0
      ? pass([ref], `${formatRef(ref)} is valid ${item.object.apiVersion} ${item.object.kind}`)
      : fail([ref], `${formatRef(ref)} (${item.file}): ${errors.slice(0, 8).join('; ')}${errors.length > 8 ? `; and ${errors.length - 8} more` : ''}`);
  });
}

export const kubernetesSchema: Check<StaticContext> = {
  id: 'kubernetes-schema',
  description: `every object in dist/ is valid against the Kubernetes ${KUBERNETES_VERSION} API schema (unknown fields are errors)`,
  component: 'platform',
  remediation: 'fix or remove the field the finding names (kubectl apply --dry-run=server reports the same)',
  run: (context) => {
    const { dist } = context;
    const malformed = dist.malformed.map((document) => fail([], `${document.file} document ${document.index + 1}: ${document.reason}`));
    const results = [...malformed, ...validateAll(context, dist.objects.filter((item) => !isDapr(item) && !isPrometheusOperator(item)))];
    return results.length > 0 ? results : [skip('no objects in dist/')];
  },
};

export const daprCrdSchema: Check<StaticContext> = {
  id: 'dapr-crd-schema',
  description: 'every Dapr object in dist/ is valid against the Dapr CRD schemas',
  component: 'dapr',
  remediation: 'fix or remove the field the finding names (see the Dapr CRD in reference/dapr-crds)',
  run: (context) => {
    const daprObjects = context.dist.objects.filter(isDapr);
    return daprObjects.length === 0 ? [skip('no Dapr objects in dist/')] : validateAll(context, daprObjects);
  },
};

export const prometheusOperatorCrdSchema: Check<StaticContext> = {
  id: 'prometheus-operator-crd-schema',
  description: "every PodMonitor and PrometheusRule in dist/ is valid against prometheus-operator's CRD schemas",
  component: 'platform',
  remediation: 'fix or remove the field the finding names (see the CRD in reference/prometheus-operator-crds)',
  run: (context) => {
    const monitoringObjects = context.dist.objects.filter(isPrometheusOperator);
    return monitoringObjects.length === 0 ? [skip('no prometheus-operator objects in dist/')] : validateAll(context, monitoringObjects);
  },
};
