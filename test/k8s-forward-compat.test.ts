import { describe, expect, it } from 'vitest';
import { referenceDir } from '../lib/platform/project-files';
import { ReferenceData } from '../verify/context';
import { SchemaValidators } from '../verify/schema/schemas';
import { synthObjects } from './support/synth';

// PRODUCT.md: objects are validated against Kubernetes 1.28 (the verifier's kubernetes-schema check),
// with 1.34 beside it for forward compatibility: nothing we emit may be removed or renamed by 1.34.
describe('forward compatibility with the Kubernetes 1.34 API', () => {
  const validators = new SchemaValidators(new ReferenceData(referenceDir()).kubernetesDefinitionsFile('1.34'), [], undefined);

  it.each(['minikube', 'production'])('every Kubernetes object of the %s profile is valid against 1.34', (profile) => {
    // Custom resources (Dapr's, prometheus-operator's, cert-manager's) are judged by their CRDs, not by the Kubernetes API.
    const objects = synthObjects({ profile }).filter((o) => !['dapr.io/', 'monitoring.coreos.com/', 'cert-manager.io/'].some((group) => o.apiVersion.startsWith(group)));
    expect(objects.length).toBeGreaterThan(15);
    const problems = objects.flatMap((object) => {
      const errors = validators.validate(object);
      if (errors === undefined) return [`${object.apiVersion}/${object.kind} ${object.metadata.name}: no 1.34 schema`];
      return errors.map((error) => `${object.kind}/${object.metadata.name}: ${error}`);
    });
    expect(problems).toEqual([]);
  });

  it('can fail: a field 1.34 does not know is reported', () => {
    const statefulSet = synthObjects().find((o) => o.kind === 'StatefulSet')!;
    const broken = { ...statefulSet, spec: { ...statefulSet.spec, notAField: true } };
    expect(validators.validate(broken)?.join('\n')).toMatch(/notAField/);
  });
});
