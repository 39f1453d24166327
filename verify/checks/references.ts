import type { StaticContext } from '../context';
import type { Dist } from '../dist';
import { type Check, type CheckResult, type DistObject, fail, formatRef, type ObjectRef, pass, refOf, skip, warn } from '../model';
import { containersOf, namespaceOf, objectsOfKind, type PodTemplate, podTemplates, selects } from '../workloads';

const SELECTOR_WORKLOADS = new Set(['StatefulSet', 'Deployment', 'DaemonSet', 'ReplicaSet']);

function templatesSelectedBy(dist: Dist, namespace: string, selector: Record<string, any>): PodTemplate[] {
  return podTemplates(dist).filter((template) => namespaceOf(template.owner) === namespace && selects(selector, template.labels));
}

export const selectorMatchesTemplate: Check<StaticContext> = {
  id: 'selector-matches-template',
  description: 'workload selectors match their pod template; Service, PDB and NetworkPolicy selectors match pods in dist/',
  component: 'platform',
  remediation: 'make the selector a subset of the pod template labels (selectors are immutable: change the template labels, not the selector, on a live object)',
  run: ({ dist }) => {
    const results: CheckResult[] = [];
    for (const template of podTemplates(dist)) {
      if (!SELECTOR_WORKLOADS.has(template.owner.object.kind)) continue;
      const ref = refOf(template.owner);
      const selector = template.owner.object.spec?.selector;
      results.push(
        selects(selector, template.labels)
          ? pass([ref], `${formatRef(ref)}: selector matches its pod template`)
          : fail([ref], `${formatRef(ref)}: selector ${JSON.stringify(selector?.matchLabels ?? selector ?? null)} does not match the pod template labels`),
      );
    }
    const selecting: [DistObject, Record<string, any> | undefined][] = [
      ...objectsOfKind(dist, 'Service').map((item): [DistObject, Record<string, any> | undefined] => [item, item.object.spec?.selector]),
      ...objectsOfKind(dist, 'PodDisruptionBudget').map((item): [DistObject, Record<string, any> | undefined] => [item, item.object.spec?.selector]),
    ];
    for (const [item, selector] of selecting) {
      if (!selector || Object.keys(selector).length === 0) continue; // a Service without selector has its own Endpoints
      const ref = refOf(item);
      results.push(
        templatesSelectedBy(dist, namespaceOf(item), selector).length > 0
          ? pass([ref], `${formatRef(ref)}: selects pods in dist/`)
          : fail([ref], `${formatRef(ref)}: selector ${JSON.stringify(selector.matchLabels ?? selector)} selects no pod template in namespace ${namespaceOf(item)}`),
      );
    }
    for (const item of objectsOfKind(dist, 'NetworkPolicy')) {
      const selector = item.object.spec?.podSelector ?? {};
      if (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0) continue;
      const ref = refOf(item);
      if (templatesSelectedBy(dist, namespaceOf(item), selector).length === 0) {
        results.push(warn([ref], `${formatRef(ref)}: podSelector selects no pod template in dist/ (pods from elsewhere may match)`));
      }
    }
    return results.length > 0 ? results : [skip('no selectors in dist/')];
  },
};

export const servicePortsResolve: Check<StaticContext> = {
  id: 'service-ports-resolve',
  description: 'every Service targetPort names or numbers a port of the containers it selects',
  component: 'platform',
  remediation: 'set targetPort to a containerPort name (preferred) or number that every selected container declares',
  run: ({ dist }) => {
    const results: CheckResult[] = [];
    for (const item of objectsOfKind(dist, 'Service')) {
      const selector = item.object.spec?.selector;
      if (!selector || Object.keys(selector).length === 0) continue;
      const templates = templatesSelectedBy(dist, namespaceOf(item), selector);
      if (templates.length === 0) continue; // selector-matches-template reports it
      const ref = refOf(item);
      const problems: string[] = [];
      for (const port of (item.object.spec?.ports ?? []) as { name?: string; port?: number; targetPort?: string | number }[]) {
        const target = port.targetPort ?? port.port;
        for (const template of templates) {
          const containerPorts = containersOf(template)
            .filter((entry) => !entry.init)
            .flatMap((entry) => (entry.container.ports ?? []) as { name?: string; containerPort?: number }[]);
          const found = containerPorts.some((containerPort) => (typeof target === 'string' ? containerPort.name === target : containerPort.containerPort === target));
          if (!found) problems.push(`port ${port.name ?? port.port} targets ${target}, which ${formatRef(refOf(template.owner))} does not declare`);
        }
      }
      results.push(problems.length === 0 ? pass([ref], `${formatRef(ref)}: every targetPort resolves`) : fail([ref], `${formatRef(ref)}: ${problems.join('; ')}`));
    }
    return results.length > 0 ? results : [skip('no Services with selectors in dist/')];
  },
};

interface Reference {
  readonly kind: 'ConfigMap' | 'Secret' | 'PersistentVolumeClaim';
  readonly namespace: string;
  readonly name: string;
  readonly key?: string;
  readonly optional: boolean;
  readonly from: ObjectRef;
  readonly where: string;
}

/** Every ConfigMap, Secret and PVC reference made by pod templates (and, for Secrets, Dapr Components). */
export function referencesIn(dist: Dist): Reference[] {
  const references: Reference[] = [];
  for (const template of podTemplates(dist)) {
    const from = refOf(template.owner);
    const namespace = namespaceOf(template.owner);
    const add = (kind: Reference['kind'], name: unknown, where: string, key?: unknown, optional?: unknown) => {
      if (typeof name === 'string') references.push({ kind, namespace, name, key: typeof key === 'string' ? key : undefined, optional: optional === true, from, where });
    };
    for (const volume of (template.spec.volumes ?? []) as Record<string, any>[]) {
      const where = `volume ${volume?.name}`;
      add('ConfigMap', volume?.configMap?.name, where, undefined, volume?.configMap?.optional);
      for (const item of (volume?.configMap?.items ?? []) as { key?: string }[]) add('ConfigMap', volume.configMap.name, where, item.key, volume.configMap.optional);
      add('Secret', volume?.secret?.secretName, where, undefined, volume?.secret?.optional);
      for (const item of (volume?.secret?.items ?? []) as { key?: string }[]) add('Secret', volume.secret.secretName, where, item.key, volume.secret.optional);
      add('PersistentVolumeClaim', volume?.persistentVolumeClaim?.claimName, where);
      for (const source of (volume?.projected?.sources ?? []) as Record<string, any>[]) {
        add('ConfigMap', source?.configMap?.name, where, undefined, source?.configMap?.optional);
        add('Secret', source?.secret?.name, where, undefined, source?.secret?.optional);
        for (const item of (source?.secret?.items ?? []) as { key?: string }[]) add('Secret', source.secret.name, where, item.key, source.secret.optional);
      }
    }
    for (const pullSecret of (template.spec.imagePullSecrets ?? []) as { name?: string }[]) add('Secret', pullSecret?.name, 'imagePullSecrets');
    for (const { container, where } of containersOf(template)) {
      for (const env of (container.env ?? []) as Record<string, any>[]) {
        const configMapKey = env?.valueFrom?.configMapKeyRef;
        const secretKey = env?.valueFrom?.secretKeyRef;
        add('ConfigMap', configMapKey?.name, `${where} env ${env?.name}`, configMapKey?.key, configMapKey?.optional);
        add('Secret', secretKey?.name, `${where} env ${env?.name}`, secretKey?.key, secretKey?.optional);
      }
      for (const envFrom of (container.envFrom ?? []) as Record<string, any>[]) {
        add('ConfigMap', envFrom?.configMapRef?.name, `${where} envFrom`, undefined, envFrom?.configMapRef?.optional);
        add('Secret', envFrom?.secretRef?.name, `${where} envFrom`, undefined, envFrom?.secretRef?.optional);
      }
    }
  }
  for (const item of daprComponents(dist)) {
    const secretStore = item.object.auth?.secretStore;
    // In Kubernetes mode the operator resolves secretKeyRef against Secrets in the Component's namespace
    // only for the built-in store (auth.secretStore unset or 'kubernetes'); other stores are resolved by daprd.
    if (secretStore !== undefined && secretStore !== 'kubernetes') continue;
    for (const entry of (item.object.spec?.metadata ?? []) as Record<string, any>[]) {
      const ref = entry?.secretKeyRef;
      if (typeof ref?.name === 'string') {
        references.push({ kind: 'Secret', namespace: namespaceOf(item), name: ref.name, key: ref.key ?? ref.name, optional: false, from: refOf(item), where: `metadata ${entry.name}` });
      }
    }
  }
  return references;
}

export function daprComponents(dist: Dist): DistObject[] {
  return dist.objects.filter((item) => item.object.kind === 'Component' && item.object.apiVersion.startsWith('dapr.io/'));
}

function findInDist(dist: Dist, kind: string, namespace: string, name: string): DistObject | undefined {
  return dist.objects.find((item) => item.object.kind === kind && item.object.metadata.name === name && namespaceOf(item) === namespace);
}

export const configMapReferences: Check<StaticContext> = {
  id: 'configmap-references',
  description: 'every ConfigMap a pod uses (and every key it names) is in dist/, in the same namespace',
  component: 'platform',
  remediation: 'add the ConfigMap to dist/ in the pod namespace, or fix the name/key (Jobs: the hashed name changes with content)',
  run: ({ dist }) => {
    const references = referencesIn(dist).filter((reference) => reference.kind === 'ConfigMap');
    if (references.length === 0) return [skip('no ConfigMap references in dist/')];
    return references.map((reference) => {
      const target = findInDist(dist, 'ConfigMap', reference.namespace, reference.name);
      const refs = [reference.from, ...(target ? [refOf(target)] : [])];
      const at = `${formatRef(reference.from)} ${reference.where}`;
      if (!target) {
        return reference.optional
          ? warn(refs, `${at}: optional ConfigMap ${reference.namespace}/${reference.name} is not in dist/`)
          : fail(refs, `${at}: ConfigMap ${reference.namespace}/${reference.name} is not in dist/`);
      }
      const keys = { ...(target.object.data ?? {}), ...(target.object.binaryData ?? {}) };
      if (reference.key !== undefined && !(reference.key in keys) && !reference.optional) {
        return fail(refs, `${at}: ConfigMap ${reference.namespace}/${reference.name} has no key ${reference.key}`);
      }
      return pass(refs, `${at}: ConfigMap ${reference.name}${reference.key ? ` key ${reference.key}` : ''} resolves`);
    });
  },
};

interface SecretContractEntry {
  readonly namespaces?: readonly string[];
  readonly keys?: readonly string[];
}

/**
 * The secret contract of the endpoints document: an entry `<name>  (namespaces: a, b)` followed by an
 * indented `keys: k1, k2` line. Names mentioned only in prose count as documented, without details.
 */
export function secretContract(text: string): { entries: Map<string, SecretContractEntry>; text: string } {
  const entries = new Map<string, SecretContractEntry>();
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const entry = /^([a-z0-9][a-z0-9.-]*)\s+\(namespaces?:\s*([^)]*)\)/.exec(line);
    if (!entry) return;
    const keysLine = lines.slice(index + 1, index + 4).find((next) => /^\s+keys:/.test(next));
    entries.set(entry[1], {
      namespaces: entry[2].split(',').map((namespace) => namespace.trim()).filter(Boolean),
      keys: keysLine?.replace(/^\s+keys:/, '').split(',').map((key) => key.trim()).filter(Boolean),
    });
  });
  return { entries, text };
}

export const secretReferences: Check<StaticContext> = {
  id: 'secret-references',
  description: 'every Secret referenced (name, namespace, key) is in the secret contract of the endpoints document; Secrets live in the cluster, not in dist/',
  component: 'platform',
  remediation: 'document the Secret (name, namespaces, keys, readers) in the endpoints document, or fix the reference',
  run: ({ dist }) => {
    const references = referencesIn(dist).filter((reference) => reference.kind === 'Secret');
    if (references.length === 0) return [skip('no Secret references in dist/')];
    const contract = secretContract(Object.values(dist.documents).join('\n'));
    return references.map((reference) => {
      const at = `${formatRef(reference.from)} ${reference.where}`;
      const secret = `${reference.namespace}/${reference.name}${reference.key ? ` key ${reference.key}` : ''}`;
      if (findInDist(dist, 'Secret', reference.namespace, reference.name)) return pass([reference.from], `${at}: Secret ${secret} is in dist/`);
      const entry = contract.entries.get(reference.name);
      if (entry) {
        if (entry.namespaces && entry.namespaces.length > 0 && !entry.namespaces.includes(reference.namespace)) {
          return fail([reference.from], `${at}: Secret ${secret}: the contract provides it in namespace(s) ${entry.namespaces.join(', ')} only`);
        }
        if (reference.key && entry.keys && !entry.keys.includes(reference.key)) {
          return fail([reference.from], `${at}: Secret ${secret}: the contract lists keys ${entry.keys.join(', ')} only`);
        }
        return pass([reference.from], `${at}: Secret ${secret} is in the secret contract`);
      }
      const mentioned = new RegExp(`(^|[^\\w.-])${escapeRegExp(reference.name)}([^\\w.-]|$)`).test(contract.text);
      return mentioned
        ? pass([reference.from], `${at}: Secret ${secret} is expected in the cluster (documented)`)
        : fail([reference.from], `${at}: Secret ${secret} is expected in the cluster but no document in dist/ names it`);
    });
  },
};

export const volumeReferences: Check<StaticContext> = {
  id: 'volume-references',
  description: 'every volumeMount names a volume or volumeClaimTemplate, and every PVC a pod claims is in dist/',
  component: 'platform',
  remediation: 'add the volume (or volumeClaimTemplate) the mount names, or the PersistentVolumeClaim to dist/',
  run: ({ dist }) => {
    const results: CheckResult[] = [];
    for (const template of podTemplates(dist)) {
      const ref = refOf(template.owner);
      const volumes = new Set<string>([
        ...((template.spec.volumes ?? []) as { name?: string }[]).map((volume) => volume?.name ?? ''),
        ...((template.owner.object.spec?.volumeClaimTemplates ?? []) as { metadata?: { name?: string } }[]).map((claim) => claim?.metadata?.name ?? ''),
      ]);
      const missing = containersOf(template).flatMap(({ container, where }) =>
        ((container.volumeMounts ?? []) as { name?: string }[]).filter((mount) => !volumes.has(mount?.name ?? '')).map((mount) => `${where} mounts unknown volume '${mount?.name}'`),
      );
      const claims = referencesIn({ ...dist, objects: [template.owner] })
        .filter((reference) => reference.kind === 'PersistentVolumeClaim')
        .filter((reference) => !findInDist(dist, 'PersistentVolumeClaim', reference.namespace, reference.name))
        .map((reference) => `${reference.where} claims PVC ${reference.namespace}/${reference.name}, which is not in dist/`);
      const problems = [...missing, ...claims];
      results.push(problems.length === 0 ? pass([ref], `${formatRef(ref)}: every mount and claim resolves`) : fail([ref], `${formatRef(ref)}: ${problems.join('; ')}`));
    }
    return results.length > 0 ? results : [skip('no pod templates in dist/')];
  },
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
