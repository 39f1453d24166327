// What reference/ vendors, from which upstream repository, and how the Kubernetes definitions are
// trimmed. `npm run refresh-reference` (scripts/refresh-reference.ts) applies it; reference/README.md
// says the same for people.

import { KUBERNETES_VERSION } from '../verify/context';

type JsonSchema = Record<string, unknown>;

export interface KubernetesKind {
  readonly apiVersion: string;
  readonly kind: string;
}

/**
 * The kinds the vendored Kubernetes definitions keep, with every definition they reach through $ref:
 * those dist/ emits, then the workload kinds (and the Secret and PVC) the verifier's checks judge when a
 * hand edit adds one to dist/. Any other kind gets "no schema" from the verifier: add it here and refresh.
 */
export const KUBERNETES_KINDS: readonly KubernetesKind[] = [
  { apiVersion: 'v1', kind: 'Namespace' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'batch/v1', kind: 'Job' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  { apiVersion: 'v1', kind: 'ServiceAccount' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'apps/v1', kind: 'DaemonSet' },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet' },
  { apiVersion: 'batch/v1', kind: 'CronJob' },
  { apiVersion: 'v1', kind: 'Pod' },
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
];

/** The verifier's version, and the newer one test/k8s-forward-compat.test.ts checks every object against. */
export const KUBERNETES_SCHEMA_VERSIONS: readonly string[] = [KUBERNETES_VERSION, '1.34'];

export interface VendoredFile {
  /** Where it lives in reference/. */
  readonly path: string;
  /** Where it lives in a checkout of the upstream repository. */
  readonly upstreamPath: string;
  /** Applied to the upstream text; the file is copied verbatim without one. */
  readonly transform?: (text: string) => string;
}

export interface UpstreamSource {
  /** `--<flag> <checkout>` of npm run refresh-reference. */
  readonly flag: string;
  /** owner/name on GitHub. */
  readonly repository: string;
  readonly license: string;
  readonly files: readonly VendoredFile[];
}

const componentMetadata = (path: string, upstreamPath: string): VendoredFile => ({ path: `dapr-component-metadata/${path}`, upstreamPath });

/** A source with its repository's LICENSE: Apache-2.0 asks redistributors to pass the license text on. */
function withLicense(source: UpstreamSource): UpstreamSource {
  return { ...source, files: [...source.files, { path: `licenses/${source.repository.replace('/', '-')}.txt`, upstreamPath: 'LICENSE' }] };
}

export const UPSTREAM_SOURCES: readonly UpstreamSource[] = [
  withLicense({
    flag: 'kubernetes',
    repository: 'cdk8s-team/cdk8s',
    license: 'Apache-2.0',
    // The Kubernetes OpenAPI definitions as JSON schema, the files `cdk8s import k8s@<version>` uses.
    files: KUBERNETES_SCHEMA_VERSIONS.map((version) => ({
      path: `k8s-schema-${version}/_definitions.json`,
      upstreamPath: `kubernetes-schemas/v${version}.0/_definitions.json`,
      transform: (text: string) => trimKubernetesDefinitions(text),
    })),
  }),
  withLicense({
    flag: 'dapr',
    repository: 'dapr/dapr',
    license: 'Apache-2.0',
    // The CRDs of the kinds dist/ emits (cdk8s.yaml imports those), and Configuration's: deploy's
    // preflight and the verifier require all four, so the control-plane tests install all four, as Dapr's chart does.
    files: ['components', 'configuration', 'resiliency', 'subscription'].map((name) => ({ path: `dapr-crds/${name}.yaml`, upstreamPath: `charts/dapr/crds/${name}.yaml` })),
  }),
  withLicense({
    flag: 'cert-manager',
    repository: 'cert-manager/cert-manager',
    license: 'Apache-2.0',
    // The kinds dist/ emits for PostgreSQL's TLS (Certificate, Issuer; cdk8s.yaml imports those) and
    // ClusterIssuer, which a config may name: deploy's preflight requires them, the control-plane tests install them.
    files: ['certificates', 'issuers', 'clusterissuers'].map((name) => ({
      path: `cert-manager-crds/${name}.yaml`,
      upstreamPath: `deploy/crds/cert-manager.io_${name}.yaml`,
    })),
  }),
  withLicense({
    flag: 'components-contrib',
    repository: 'dapr/components-contrib',
    license: 'Apache-2.0',
    // The component types the Components use (state.postgresql v1 too: a hand edit may pick it), the
    // built-in authentication profiles they reference, and the schema of the metadata files.
    files: [
      componentMetadata('pubsub.kafka.yaml', 'pubsub/kafka/metadata.yaml'),
      componentMetadata('state.postgresql.v1.yaml', 'state/postgresql/v1/metadata.yaml'),
      componentMetadata('state.postgresql.v2.yaml', 'state/postgresql/v2/metadata.yaml'),
      componentMetadata('secretstores.kubernetes.yaml', 'secretstores/kubernetes/metadata.yaml'),
      componentMetadata('builtin-authentication-profiles.yaml', '.build-tools/builtin-authentication-profiles.yaml'),
      componentMetadata('component-metadata-schema.json', 'component-metadata-schema.json'),
    ],
  }),
  withLicense({
    flag: 'prometheus-operator',
    repository: 'prometheus-operator/prometheus-operator',
    license: 'Apache-2.0',
    // The CRDs of the kinds dist/ emits when observability is on (cdk8s.yaml imports them); deploy's
    // preflight requires them.
    files: ['podmonitors', 'prometheusrules'].map((name) => ({
      path: `prometheus-operator-crds/${name}.yaml`,
      upstreamPath: `example/prometheus-operator-crd/monitoring.coreos.com_${name}.yaml`,
    })),
  }),
];

const DEFINITION_REF = '#/definitions/';

/**
 * The definitions of `kinds` and every definition they reach through $ref, in upstream order and
 * upstream formatting: each kept definition is upstream's text, unchanged. Throws when a kind has no
 * definition or a $ref does not resolve, so a refresh cannot vendor a schema that does not compile.
 */
export function trimKubernetesDefinitions(text: string, kinds: readonly KubernetesKind[] = KUBERNETES_KINDS): string {
  const { definitions } = JSON.parse(text) as { definitions: Record<string, JsonSchema> };
  const kept = new Set<string>();
  const keep = (name: string, from: string) => {
    if (kept.has(name)) return;
    if (!Object.hasOwn(definitions, name)) throw new Error(`${from} refers to ${name}, which is not defined`);
    kept.add(name);
    for (const ref of definitionRefs(definitions[name])) keep(ref, name);
  };
  for (const { apiVersion, kind } of kinds) {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    const root = Object.keys(definitions).find((name) =>
      ((definitions[name]['x-kubernetes-group-version-kind'] ?? []) as KubernetesGroupVersionKind[]).some(
        (gvk) => gvk.group === group && gvk.version === version && gvk.kind === kind,
      ),
    );
    if (!root) throw new Error(`no definition for ${apiVersion} ${kind}`);
    keep(root, `${apiVersion} ${kind}`);
  }
  return formatLikeUpstream({ definitions: Object.fromEntries(Object.entries(definitions).filter(([name]) => kept.has(name))) });
}

interface KubernetesGroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

/** The names of the definitions a schema refers to (`"$ref": "#/definitions/<name>"`), in order. */
export function definitionRefs(schema: unknown): string[] {
  if (Array.isArray(schema)) return schema.flatMap(definitionRefs);
  if (typeof schema !== 'object' || schema === null) return [];
  return Object.entries(schema).flatMap(([key, value]) => {
    // A string $ref is a reference; anything else under that key is data (a property named "$ref").
    if (key !== '$ref' || typeof value !== 'string') return definitionRefs(value);
    if (!value.startsWith(DEFINITION_REF)) throw new Error(`$ref ${value} is not a local definition`);
    return [value.slice(DEFINITION_REF.length)];
  });
}

/** JSON as upstream writes it: two-space indents, non-ASCII as \u escapes, no final newline. */
function formatLikeUpstream(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\u0080-\uffff]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
