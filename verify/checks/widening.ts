import type { StaticContext } from '../context';
import type { Dist } from '../dist';
import type { DistObject } from '../model';
import { type Check, type CheckResult, fail, formatRef, pass, refOf, skip } from '../model';
import { namespaceOf, objectsOfKind } from '../workloads';

/** The label the API server sets on every Namespace to its name. */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/**
 * Whether a label selector matches any object anyone creates next: one that carries none of the selector's
 * labels but those set on every such object (`always`, e.g. a Namespace's name label, with a value nobody
 * listed). An empty selector does; so do `Exists` on an always-set label, and `NotIn` or `DoesNotExist` on
 * any other label (an unlabeled newcomer satisfies them).
 */
function matchesEveryone(selector: Record<string, any>, always: readonly string[]): boolean {
  if (Object.keys(selector.matchLabels ?? {}).length > 0) return false;
  return ((selector.matchExpressions ?? []) as { key?: string; operator?: string }[]).every((expression) =>
    always.includes(expression?.key ?? '') ? ['Exists', 'NotIn'].includes(expression?.operator ?? '') : ['DoesNotExist', 'NotIn'].includes(expression?.operator ?? ''),
  );
}

const everyNamespace = (selector: Record<string, any>) => matchesEveryone(selector, [NAMESPACE_NAME_LABEL]);
const everyPod = (selector: Record<string, any>) => matchesEveryone(selector, []);
const describe = (selector: Record<string, any>, noun: string) => (Object.keys(selector).length === 0 ? 'is empty' : `${JSON.stringify(selector)} matches every ${noun}`);

const EVERYWHERE = ['0.0.0.0/0', '::/0'];

/** Why an ingress peer admits more than named clients, or undefined when it does not. */
function widening(peer: Record<string, any> | null | undefined, namespace: string): string | undefined {
  if (!peer || Object.keys(peer).length === 0) return 'is empty: admits every pod of every namespace';
  if (peer.ipBlock && EVERYWHERE.includes(peer.ipBlock.cidr)) return `ipBlock ${peer.ipBlock.cidr} admits every address`;
  if (peer.namespaceSelector && everyNamespace(peer.namespaceSelector)) {
    const what = `namespaceSelector ${describe(peer.namespaceSelector, 'namespace')}`;
    return peer.podSelector && !everyPod(peer.podSelector)
      ? `${what}: admits pods with these labels in every namespace (anyone who can label a pod)`
      : `${what}: admits every pod of every namespace`;
  }
  if (!peer.namespaceSelector && peer.podSelector && everyPod(peer.podSelector)) return `podSelector ${describe(peer.podSelector, 'pod')}: admits every pod of namespace ${namespace}, present and future`;
  return undefined;
}

export const networkPolicyWidening: Check<StaticContext> = {
  id: 'network-policy-widening',
  description: 'no NetworkPolicy ingress rule admits every namespace, every pod or every address (no `from`, `from: [{}]`, empty selectors, 0.0.0.0/0)',
  component: 'platform',
  remediation: 'name the clients: namespaceSelector on kubernetes.io/metadata.name and/or a podSelector with the client label',
  run: ({ dist }) => {
    const policies = objectsOfKind(dist, 'NetworkPolicy');
    if (policies.length === 0) return [skip('no NetworkPolicies in dist/')];
    return policies.map((policy): CheckResult => {
      const ref = refOf(policy);
      const rules = (policy.object.spec?.ingress ?? []) as Record<string, any>[];
      const findings: string[] = [];
      rules.forEach((rule, index) => {
        const path = `spec.ingress[${index}]`;
        const from = rule?.from as Record<string, any>[] | undefined;
        // An ingress rule without peers matches all sources (networking.k8s.io/v1 NetworkPolicyIngressRule.from).
        if (!from || from.length === 0) findings.push(`${path}.from is ${from ? 'empty' : 'unset'}: admits every source, in the cluster and outside`);
        else
          from.forEach((peer, peerIndex) => {
            const why = widening(peer, namespaceOf(policy));
            if (why) findings.push(`${path}.from[${peerIndex}] ${why}`);
          });
      });
      return findings.length > 0
        ? fail([ref], `${formatRef(ref)} (${policy.file}): ${findings.join('; ')} (rule: every ingress peer names its clients, by namespace name and/or pod labels)`)
        : pass([ref], `${formatRef(ref)}: ${rules.length} ingress rule(s), each naming its clients`);
    });
  },
};

const SECRET_RESOURCES = ['secrets', '*'];
// The API cannot restrict these by resourceNames (kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources).
const UNNAMEABLE_VERBS = ['create', 'deletecollection', '*'];

const grantsSecrets = (rule: Record<string, any>) =>
  ((rule?.apiGroups ?? []) as string[]).some((group) => group === '' || group === '*') && ((rule?.resources ?? []) as string[]).some((resource) => SECRET_RESOURCES.includes(resource));

function ruleFindings(rule: Record<string, any>): string[] {
  const [groups, resources, verbs, names] = ['apiGroups', 'resources', 'verbs', 'resourceNames'].map((field) => (rule?.[field] ?? []) as string[]);
  const findings: string[] = [];
  if (groups.includes('*') || resources.includes('*') || verbs.includes('*')) findings.push(`uses a wildcard (apiGroups ${JSON.stringify(groups)}, resources ${JSON.stringify(resources)}, verbs ${JSON.stringify(verbs)})`);
  if (grantsSecrets(rule)) {
    if (names.length === 0) findings.push(`grants ${verbs.join(', ')} on secrets without resourceNames: every Secret of the namespace`);
    const unnameable = verbs.filter((verb) => UNNAMEABLE_VERBS.includes(verb));
    if (unnameable.length > 0) findings.push(`grants ${unnameable.join(', ')} on secrets, which resourceNames cannot restrict`);
  }
  return findings;
}

/** The Role or ClusterRole a binding refers to, as declared in dist/. */
function roleOf(dist: Dist, binding: DistObject): DistObject | undefined {
  const { kind, name } = binding.object.roleRef ?? {};
  return objectsOfKind(dist, kind).find((role) => role.object.metadata.name === name && (kind === 'ClusterRole' || namespaceOf(role) === namespaceOf(binding)));
}

/**
 * Why a subject of a binding that grants Secrets is not a dedicated ServiceAccount declared in dist/, or
 * undefined. `default` is every pod's account that names none; a Group or User, and `system:*`, reach beyond
 * the pods that need the Secret.
 */
function subjectFinding(dist: Dist, binding: DistObject, subject: Record<string, any>): string | undefined {
  if (subject?.kind !== 'ServiceAccount') return `is a ${subject?.kind ?? '(no kind)'} ${JSON.stringify(subject?.name)}, not a ServiceAccount`;
  if (String(subject.name).startsWith('system:')) return `names ${subject.name}, a system identity`;
  const namespace = subject.namespace ?? namespaceOf(binding);
  if (subject.name === 'default') return `is ServiceAccount ${namespace}/default, which every pod of the namespace runs as unless it names another`;
  const declared = objectsOfKind(dist, 'ServiceAccount').some((account) => account.object.metadata.name === subject.name && namespaceOf(account) === namespace);
  return declared ? undefined : `is ServiceAccount ${namespace}/${subject.name}, which dist/ does not declare`;
}

// Default ClusterRoles that read Secrets (kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles:
// admin and edit "allow read/write access to most objects in a namespace", including Secrets).
const BUILT_IN_SECRET_ROLES = ['cluster-admin', 'admin', 'edit'];

function judgeBinding(dist: Dist, binding: DistObject): CheckResult | undefined {
  const declared = roleOf(dist, binding);
  const { kind, name } = binding.object.roleRef ?? {};
  const builtIn = !declared && kind === 'ClusterRole' && BUILT_IN_SECRET_ROLES.includes(name);
  if (!builtIn && !(declared && ((declared.object.rules ?? []) as Record<string, any>[]).some(grantsSecrets))) return undefined;
  const ref = refOf(binding);
  const refs = declared ? [ref, refOf(declared)] : [ref];
  const role = declared ? formatRef(refOf(declared)) : `ClusterRole ${name} (built into Kubernetes)`;
  const subjects = (binding.object.subjects ?? []) as Record<string, any>[];
  const findings = subjects.flatMap((subject, index) => {
    const why = subjectFinding(dist, binding, subject);
    return why ? [`subjects[${index}] ${why}`] : [];
  });
  return findings.length > 0
    ? fail(refs, `${formatRef(ref)} (${binding.file}): binds ${role}, which grants Secrets; ${findings.join('; ')} (rule: only dedicated ServiceAccounts declared in dist/ may read Secrets)`)
    : pass(refs, `${formatRef(ref)}: grants ${role} to ${subjects.map((subject) => `ServiceAccount ${subject.namespace ?? namespaceOf(binding)}/${subject.name}`).join(', ')} only`);
}

export const rbacLeastPrivilege: Check<StaticContext> = {
  id: 'rbac-least-privilege',
  description:
    'Roles and ClusterRoles use no wildcards, every rule on Secrets names them (resourceNames) with verbs that resourceNames can restrict, and a binding to such a role names only dedicated ServiceAccounts (never default, a Group, a User or system:*)',
  component: 'platform',
  remediation: "list the Secrets a reader needs in the rule's resourceNames, with verbs [get]; never '*'; bind the role to a ServiceAccount of its own that the pods which need the Secret run as",
  run: ({ dist }) => {
    const roles: DistObject[] = [...objectsOfKind(dist, 'Role'), ...objectsOfKind(dist, 'ClusterRole')];
    if (roles.length === 0) return [skip('no Roles or ClusterRoles in dist/')];
    const roleResults = roles.map((role) => {
      const ref = refOf(role);
      const findings = ((role.object.rules ?? []) as Record<string, any>[]).flatMap((rule, index) => ruleFindings(rule).map((finding) => `rules[${index}] ${finding}`));
      return findings.length > 0
        ? fail([ref], `${formatRef(ref)} (${role.file}): ${findings.join('; ')} (rule: no wildcards; Secrets only by resourceNames, with verbs resourceNames restrict)`)
        : pass([ref], `${formatRef(ref)}: ${(role.object.rules ?? []).length} rule(s), none wider than named objects`);
    });
    const bindings = [...objectsOfKind(dist, 'RoleBinding'), ...objectsOfKind(dist, 'ClusterRoleBinding')];
    return [...roleResults, ...bindings.flatMap((binding) => judgeBinding(dist, binding) ?? [])];
  },
};
