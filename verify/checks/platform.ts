import type { StaticContext } from '../context';
import { isManifestFile } from '../dist';
import { type Check, type CheckResult, type DistObject, fail, formatRef, pass, refOf, skip } from '../model';
import { allContainers, containersOf, namespaceOf, objectsOfKind, podTemplates } from '../workloads';
import { daprComponents, referencesIn } from './references';

// Kinds that are not namespaced, among those a stack like this one ships.
const CLUSTER_SCOPED_KINDS = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'StorageClass',
  'PersistentVolume',
  'PriorityClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
]);

function isNamespaced(item: DistObject): boolean {
  return !CLUSTER_SCOPED_KINDS.has(item.object.kind);
}

export const namespacePodSecurity: Check<StaticContext> = {
  id: 'namespace-pod-security',
  description: 'every namespace used is declared in dist/ and enforces the restricted Pod Security level',
  component: 'platform',
  remediation: 'declare the Namespace in dist/ with label pod-security.kubernetes.io/enforce: restricted',
  run: ({ dist }) => {
    const namespaces = objectsOfKind(dist, 'Namespace');
    const declared = new Set(namespaces.map((item) => item.object.metadata.name));
    const results: CheckResult[] = namespaces.map((item) => {
      const ref = refOf(item);
      const level = item.object.metadata.labels?.['pod-security.kubernetes.io/enforce'];
      return level === 'restricted'
        ? pass([ref], `${formatRef(ref)} enforces restricted`)
        : fail([ref], `${formatRef(ref)}: pod-security.kubernetes.io/enforce is ${level ?? 'unset'}, not restricted`);
    });
    for (const item of dist.objects.filter(isNamespaced)) {
      const ref = refOf(item);
      if (!item.object.metadata.namespace) {
        results.push(fail([ref], `${formatRef(ref)} has no metadata.namespace (it would land in whatever namespace kubectl's context names)`, 'set metadata.namespace explicitly'));
      } else if (!declared.has(item.object.metadata.namespace)) {
        results.push(fail([ref], `${formatRef(ref)}: namespace ${item.object.metadata.namespace} is not declared in dist/`));
      }
    }
    return results.length > 0 ? results : [skip('no namespaces in dist/')];
  },
};

function isDefaultDenyIngress(policy: DistObject): boolean {
  const spec = policy.object.spec ?? {};
  const selectsAll = Object.keys(spec.podSelector?.matchLabels ?? {}).length === 0 && (spec.podSelector?.matchExpressions ?? []).length === 0;
  // Without policyTypes, a policy with no egress rules is ingress-only by the API's own defaulting.
  const coversIngress = spec.policyTypes ? spec.policyTypes.includes('Ingress') : true;
  return selectsAll && coversIngress && (spec.ingress ?? []).length === 0;
}

export const networkPolicyDefaultDeny: Check<StaticContext> = {
  id: 'network-policy-default-deny',
  description: 'every namespace with pods has a default-deny ingress NetworkPolicy',
  component: 'platform',
  remediation: 'add a NetworkPolicy with podSelector {} and policyTypes [Ingress] and no ingress rules, then allow the flows each service needs',
  run: ({ dist }) => {
    const namespacesWithPods = [...new Set(podTemplates(dist).map((template) => namespaceOf(template.owner)))].sort();
    if (namespacesWithPods.length === 0) return [skip('no pod templates in dist/')];
    const policies = objectsOfKind(dist, 'NetworkPolicy');
    return namespacesWithPods.map((namespace) => {
      const denyAll = policies.find((policy) => namespaceOf(policy) === namespace && isDefaultDenyIngress(policy));
      return denyAll
        ? pass([refOf(denyAll)], `namespace ${namespace}: ${formatRef(refOf(denyAll))} denies ingress by default`)
        : fail([{ kind: 'Namespace', name: namespace }], `namespace ${namespace} has pods but no default-deny ingress NetworkPolicy`);
    });
  },
};

/** On a NetworkPolicy: the one undeclared namespace it admits on purpose, that of a prerequisite installed separately. */
export const PREREQUISITE_NAMESPACE_ANNOTATION = 'learnflow.dev/prerequisite-namespace';

export const networkPolicyPeersResolve: Check<StaticContext> = {
  id: 'network-policy-peers-resolve',
  description: 'every namespace a NetworkPolicy admits by name is a Namespace declared in dist/ (a renamed namespace would silently cut its pods off)',
  component: 'platform',
  remediation: 'admit the namespace the clients really run in (kubernetes.io/metadata.name), or declare it in dist/',
  run: ({ dist }) => {
    const declared = new Set(objectsOfKind(dist, 'Namespace').map((namespace) => namespace.object.metadata.name));
    const results: CheckResult[] = [];
    for (const policy of objectsOfKind(dist, 'NetworkPolicy')) {
      const peers = (policy.object.spec?.ingress ?? []).flatMap((rule: { from?: unknown[] }) => rule.from ?? []);
      for (const peer of peers as { namespaceSelector?: { matchLabels?: Record<string, string> } }[]) {
        const name = peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
        if (name === undefined) continue;
        // A prerequisite's namespace (Prometheus'), which dist/ must not own, is named by the policy itself.
        const prerequisite = policy.object.metadata.annotations?.[PREREQUISITE_NAMESPACE_ANNOTATION] === name;
        results.push(
          declared.has(name)
            ? pass([refOf(policy)], `${formatRef(refOf(policy))} admits namespace ${name}, declared in dist/`)
            : prerequisite
              ? pass([refOf(policy)], `${formatRef(refOf(policy))} admits namespace ${name}, a prerequisite's (${PREREQUISITE_NAMESPACE_ANNOTATION})`)
              : fail([refOf(policy)], `${formatRef(refOf(policy))} admits namespace ${name}, which dist/ does not declare`),
        );
      }
    }
    return results.length > 0 ? results : [skip('no NetworkPolicy admits a namespace by name')];
  },
};

// Env var names that carry credentials. *_FILE and *_PATH name a file that holds one, which is the safe way.
const SENSITIVE_ENV_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)/i;
const REFERENCE_ENV_NAME = /_(FILE|PATH|DIR)$/i;
// Dapr metadata fields that carry credentials across the components we use (pubsub.kafka, state.postgresql, ...).
const SENSITIVE_METADATA_NAME = /(password|secret|token|connectionstring|privatekey|clientkey|apikey|accesskey|credential)/i;
// scheme://user:password@host: a credential embedded in a URL or connection string.
const URL_WITH_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]+:[^\s@/'"]+@/i;

export const noSecretValues: Check<StaticContext> = {
  id: 'no-secret-values',
  description: 'dist/ carries no secret values: no Secret data, no credentials in env values, ConfigMaps or Dapr metadata',
  component: 'platform',
  remediation: 'move the value into a Secret created in the cluster and reference it (secretKeyRef / Dapr secretKeyRef); never commit it',
  run: ({ dist }) => {
    const results: CheckResult[] = [];
    // Messages name where a value is and never include it.
    for (const item of objectsOfKind(dist, 'Secret')) {
      const keys = [...Object.keys(item.object.data ?? {}), ...Object.keys(item.object.stringData ?? {})];
      if (keys.length > 0) results.push(fail([refOf(item)], `${formatRef(refOf(item))} carries values for ${keys.join(', ')}`));
    }
    for (const { template, container, where } of allContainers(dist)) {
      for (const env of (container.env ?? []) as { name?: string; value?: unknown }[]) {
        if (typeof env?.name !== 'string' || env.value === undefined || env.value === '') continue;
        const at = `${formatRef(refOf(template.owner))} ${where} env ${env.name}`;
        if (SENSITIVE_ENV_NAME.test(env.name) && !REFERENCE_ENV_NAME.test(env.name)) {
          results.push(fail([refOf(template.owner)], `${at} has a literal value; credentials must come from secretKeyRef`));
        } else if (URL_WITH_PASSWORD.test(String(env.value))) {
          results.push(fail([refOf(template.owner)], `${at} embeds a password in a URL`));
        }
      }
    }
    for (const item of objectsOfKind(dist, 'ConfigMap')) {
      for (const [key, value] of Object.entries(item.object.data ?? {})) {
        if (URL_WITH_PASSWORD.test(String(value))) results.push(fail([refOf(item)], `${formatRef(refOf(item))} key ${key} embeds a password in a URL`));
      }
    }
    for (const item of daprComponents(dist)) {
      for (const entry of (item.object.spec?.metadata ?? []) as { name?: string; value?: unknown }[]) {
        if (entry?.value === undefined || entry.value === '' || typeof entry.name !== 'string') continue;
        if (SENSITIVE_METADATA_NAME.test(entry.name) || URL_WITH_PASSWORD.test(String(entry.value))) {
          results.push(fail([refOf(item)], `${formatRef(refOf(item))} metadata ${entry.name} has an inline value; use secretKeyRef`));
        }
      }
    }
    return results.length > 0 ? results : [pass([], `no secret values in ${dist.objects.length} objects`)];
  },
};

export const applyOrder: Check<StaticContext> = {
  id: 'apply-order',
  description: 'kubectl apply -f dist/ meets every Namespace, and every ConfigMap a pod mounts, before what needs it',
  component: 'platform',
  remediation: 'rename the files so they sort in apply order (namespaces first, e.g. 00-namespaces.yaml) or move the object earlier in its file',
  run: ({ dist }) => {
    const position = (item: DistObject) => [dist.fileNames.indexOf(item.file), item.index] as const;
    const before = (a: DistObject, b: DistObject) => {
      const [pa, pb] = [position(a), position(b)];
      return pa[0] < pb[0] || (pa[0] === pb[0] && pa[1] < pb[1]);
    };
    const results: CheckResult[] = [];
    const namespaces = new Map(objectsOfKind(dist, 'Namespace').map((item) => [item.object.metadata.name, item]));
    for (const item of dist.objects.filter(isNamespaced)) {
      const namespace = namespaces.get(item.object.metadata.namespace ?? '');
      if (namespace && !before(namespace, item)) {
        results.push(fail([refOf(item), refOf(namespace)], `${formatRef(refOf(item))} (${item.file}) comes before its Namespace (${namespace.file})`));
      }
    }
    for (const template of podTemplates(dist)) {
      for (const reference of referencesIn({ ...dist, objects: [template.owner] }).filter((r) => r.kind === 'ConfigMap')) {
        const configMap = dist.objects.find(
          (item) => item.object.kind === 'ConfigMap' && item.object.metadata.name === reference.name && namespaceOf(item) === reference.namespace,
        );
        if (configMap && !before(configMap, template.owner)) {
          results.push(fail([refOf(template.owner), refOf(configMap)], `${formatRef(refOf(template.owner))} comes before the ConfigMap ${reference.name} it uses`));
        }
      }
    }
    const unappliable = dist.fileNames.filter((name) => isManifestFile(name) && /^kustomization\.ya?ml$/i.test(name));
    for (const file of unappliable) results.push(fail([], `${file}: kubectl apply -f dist/ would try to apply it as an object`, 'keep kustomization files out of dist/'));
    return results.length > 0 ? results : [pass([], `${dist.fileNames.length} files in apply order: ${dist.fileNames.join(', ')}`)];
  },
};

export const pvcRetention: Check<StaticContext> = {
  id: 'pvc-retention',
  description: 'StatefulSet PVCs are retained when the StatefulSet is deleted or scaled down',
  component: 'platform',
  remediation: 'set spec.persistentVolumeClaimRetentionPolicy {whenDeleted: Retain, whenScaled: Retain}',
  run: ({ dist }) => {
    const withClaims = objectsOfKind(dist, 'StatefulSet').filter((item) => (item.object.spec?.volumeClaimTemplates ?? []).length > 0);
    if (withClaims.length === 0) return [skip('no StatefulSets with volumeClaimTemplates in dist/')];
    return withClaims.map((item) => {
      const policy = item.object.spec?.persistentVolumeClaimRetentionPolicy ?? {};
      // Absent fields default to Retain (apps/v1 StatefulSetPersistentVolumeClaimRetentionPolicy).
      const deleting = ['whenDeleted', 'whenScaled'].filter((field) => (policy[field] ?? 'Retain') !== 'Retain');
      return deleting.length === 0
        ? pass([refOf(item)], `${formatRef(refOf(item))} retains its PVCs`)
        : fail([refOf(item)], `${formatRef(refOf(item))}: ${deleting.map((field) => `${field} is ${policy[field]}`).join(', ')}; data would be deleted`);
    });
  },
};

// Env vars that name data directories. The ext4 root of a fresh volume holds lost+found, which both
// Kafka (log dir) and PostgreSQL (initdb) refuse, so the data must live in a subdirectory of the mount.
const DATA_DIR_ENV = ['PGDATA', 'KAFKA_LOG_DIRS', 'KAFKA_METADATA_LOG_DIR'];

export const dataDirSubdirectory: Check<StaticContext> = {
  id: 'data-dir-subdirectory',
  description: 'data directories (PGDATA, KAFKA_LOG_DIRS) sit in a subdirectory of a persistent volume mount',
  component: 'platform',
  remediation: 'point the data dir at a subdirectory of the mount, e.g. /var/lib/kafka/data/kraft with the volume at /var/lib/kafka/data',
  run: ({ dist }) => {
    const results: CheckResult[] = [];
    for (const template of podTemplates(dist)) {
      const persistent = new Set<string>([
        ...((template.owner.object.spec?.volumeClaimTemplates ?? []) as { metadata?: { name?: string } }[]).map((claim) => claim?.metadata?.name ?? ''),
        ...((template.spec.volumes ?? []) as Record<string, any>[]).filter((volume) => volume?.persistentVolumeClaim).map((volume) => volume.name),
      ]);
      for (const { container, where } of containersOf(template)) {
        for (const env of (container.env ?? []) as { name?: string; value?: unknown }[]) {
          if (!DATA_DIR_ENV.includes(env?.name ?? '') || typeof env.value !== 'string') continue;
          const ref = refOf(template.owner);
          for (const dir of env.value.split(',').map((d) => d.trim().replace(/\/+$/, ''))) {
            const mounts = ((container.volumeMounts ?? []) as { name: string; mountPath: string }[]).filter((mount) => persistent.has(mount.name));
            const mount = mounts.find((m) => dir === m.mountPath.replace(/\/+$/, '') || dir.startsWith(`${m.mountPath.replace(/\/+$/, '')}/`));
            const at = `${formatRef(ref)} ${where} ${env.name}=${dir}`;
            if (!mount) results.push(fail([ref], `${at} is not on a persistent volume; data is lost on restart`));
            else if (dir === mount.mountPath.replace(/\/+$/, '')) results.push(fail([ref], `${at} is the mount point itself (lost+found breaks it)`));
            else results.push(pass([ref], `${at} is a subdirectory of volume ${mount.name}`));
          }
        }
      }
    }
    return results.length > 0 ? results : [skip('no data directories (PGDATA, KAFKA_LOG_DIRS) in dist/')];
  },
};
