import { METADATA_RULES, validateComponent } from '../../lib/dapr/component-metadata';
import type { StaticContext } from '../context';
import { type Check, fail, formatRef, pass, refOf, skip } from '../model';
import { namespaceOf } from '../workloads';
import { daprComponents } from './references';

const NO_COMPONENTS = 'no Dapr Components in dist/';

export const daprComponentMetadata: Check<StaticContext> = {
  id: 'dapr-component-metadata',
  description: "Dapr Components match Dapr's component metadata (known type and version, required fields, sensitive fields from secretKeyRef)",
  component: 'dapr',
  remediation: 'fix the metadata entry as the finding says (see the component page on docs.dapr.io for its fields)',
  run: ({ dist, reference }) => {
    const components = daprComponents(dist);
    if (components.length === 0) return [skip(NO_COMPONENTS)];
    const catalog = reference.componentMetadata();
    return components.map((item) => {
      const ref = refOf(item);
      // Findings carry property names and non-sensitive values only (the library's contract).
      const findings = validateComponent(item.object, catalog);
      return findings.length === 0
        ? pass([ref], `${formatRef(ref)} (${item.object.spec?.type} ${item.object.spec?.version}) matches its metadata`)
        : fail([ref], `${formatRef(ref)}: ${findings.map((f) => `${f.path} '${f.value}': ${f.message} [${f.rule}]`).join('; ')}`, METADATA_RULES[findings[0].rule]);
    });
  },
};

export const daprComponentScopes: Check<StaticContext> = {
  id: 'dapr-component-scopes',
  description: 'every Dapr Component is scoped to named app-ids (unscoped components load into every sidecar)',
  component: 'dapr',
  remediation: 'list the app-ids that use the component under top-level scopes:',
  run: ({ dist }) => {
    const components = daprComponents(dist);
    if (components.length === 0) return [skip(NO_COMPONENTS)];
    return components.map((item) => {
      const scopes = item.object.scopes;
      const ref = refOf(item);
      return Array.isArray(scopes) && scopes.length > 0 && scopes.every((scope) => typeof scope === 'string' && scope !== '')
        ? pass([ref], `${formatRef(ref)} is scoped to ${scopes.join(', ')}`)
        : fail([ref], `${formatRef(ref)} has no scopes; every Dapr sidecar in namespace ${namespaceOf(item)} loads it`);
    });
  },
};
