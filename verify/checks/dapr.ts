import { METADATA_RULES, validateComponent } from '../../lib/dapr/component-metadata';
import type { StaticContext } from '../context';
import { type Check, type CheckResult, fail, formatRef, pass, refOf, skip } from '../model';
import { daprComponents } from './references';
import { namespaceOf, objectsOfKind, SVC_DOMAIN } from '../workloads';

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

const BROKER = new RegExp(String.raw`^([a-z0-9-]+)(?:\.([a-z0-9-]+))?${SVC_DOMAIN}?:(\d+)$`);

export const daprKafkaBrokersResolve: Check<StaticContext> = {
  id: 'dapr-kafka-brokers-resolve',
  description: 'pubsub.kafka brokers name a Service port in dist/ (host <svc>.<ns>.svc[.<cluster domain>]:<port>)',
  component: 'dapr',
  remediation: 'set metadata brokers to the Kafka bootstrap Service, e.g. kafka-bootstrap.kafka.svc.cluster.local:9092',
  run: ({ dist }) => {
    const pubsubs = daprComponents(dist).filter((item) => item.object.spec?.type === 'pubsub.kafka');
    if (pubsubs.length === 0) return [skip('no pubsub.kafka Component in dist/')];
    const services = objectsOfKind(dist, 'Service');
    return pubsubs.map((item): CheckResult => {
      const ref = refOf(item);
      const brokers = ((item.object.spec?.metadata ?? []) as { name?: string; value?: unknown }[]).find((entry) => entry?.name === 'brokers')?.value;
      if (typeof brokers !== 'string' || brokers === '') return fail([ref], `${formatRef(ref)}: brokers has no literal value to check`);
      const unresolved = brokers
        .split(',')
        .map((broker) => broker.trim())
        .filter((broker) => {
          const match = BROKER.exec(broker);
          if (!match) return true;
          const [, host, namespace = namespaceOf(item), port] = match;
          // A pod's stable name (kafka-0.kafka-headless) resolves through its headless Service.
          return !services.some(
            (service) =>
              namespaceOf(service) === namespace &&
              (service.object.metadata.name === host || host.startsWith(`${service.object.metadata.name}-`)) &&
              ((service.object.spec?.ports ?? []) as { port?: number }[]).some((p) => p.port === Number(port)),
          );
        });
      return unresolved.length === 0
        ? pass([ref], `${formatRef(ref)}: brokers ${brokers} resolve to Services in dist/`)
        : fail([ref], `${formatRef(ref)}: broker(s) ${unresolved.join(', ')} match no Service port in dist/`);
    });
  },
};
