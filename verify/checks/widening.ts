import type { StaticContext } from '../context';
import type { DistObject } from '../model';
import { type Check, type CheckResult, fail, formatRef, pass, refOf, skip } from '../model';
import { namespaceOf, objectsOfKind } from '../workloads';

const isEmptySelector = (selector: Record<string, any>) =>
  Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0;

const EVERYWHERE = ['0.0.0.0/0', '::/0'];

/** Why an ingress peer admits more than named clients, or undefined when it does not. */
function widening(peer: Record<string, any> | null | undefined, namespace: string): string | undefined {
  if (!peer || Object.keys(peer).length === 0) return 'is empty: admits every pod of every namespace';
  if (peer.ipBlock && EVERYWHERE.includes(peer.ipBlock.cidr)) return `ipBlock ${peer.ipBlock.cidr} admits every address`;
  if (peer.namespaceSelector && isEmptySelector(peer.namespaceSelector)) {
    return peer.podSelector && !isEmptySelector(peer.podSelector)
      ? 'namespaceSelector is empty: admits pods with these labels in every namespace (anyone who can label a pod)'
      : 'namespaceSelector is empty: admits every pod of every namespace';
  }
  if (!peer.namespaceSelector && peer.podSelector && isEmptySelector(peer.podSelector)) return `podSelector is empty: admits every pod of namespace ${namespace}, present and future`;
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
        ? fail([ref], `${formatRef(ref)} (${policy.file}): ${findings.join('; ')}`)
        : pass([ref], `${formatRef(ref)}: ${rules.length} ingress rule(s), each naming its clients`);
    });
  },
};

const SECRET_RESOURCES = ['secrets', '*'];
// The API cannot restrict these by resourceNames (kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources).
const UNNAMEABLE_VERBS = ['create', 'deletecollection', '*'];

function ruleFindings(rule: Record<string, any>): string[] {
  const [groups, resources, verbs, names] = ['apiGroups', 'resources', 'verbs', 'resourceNames'].map((field) => (rule?.[field] ?? []) as string[]);
  const findings: string[] = [];
  if (groups.includes('*') || resources.includes('*') || verbs.includes('*')) findings.push(`uses a wildcard (apiGroups ${JSON.stringify(groups)}, resources ${JSON.stringify(resources)}, verbs ${JSON.stringify(verbs)})`);
  const coreGroup = groups.includes('') || groups.includes('*');
  if (coreGroup && resources.some((resource) => SECRET_RESOURCES.includes(resource))) {
    if (names.length === 0) findings.push(`grants ${verbs.join(', ')} on secrets without resourceNames: every Secret of the namespace`);
    const unnameable = verbs.filter((verb) => UNNAMEABLE_VERBS.includes(verb));
    if (unnameable.length > 0) findings.push(`grants ${unnameable.join(', ')} on secrets, which resourceNames cannot restrict`);
  }
  return findings;
}

export const rbacLeastPrivilege: Check<StaticContext> = {
  id: 'rbac-least-privilege',
  description: 'Roles and ClusterRoles use no wildcards, and every rule on Secrets names them (resourceNames) with verbs that resourceNames can restrict',
  component: 'platform',
  remediation: "list the Secrets a reader needs in the rule's resourceNames, with verbs [get]; never '*'",
  run: ({ dist }) => {
    const roles: DistObject[] = [...objectsOfKind(dist, 'Role'), ...objectsOfKind(dist, 'ClusterRole')];
    if (roles.length === 0) return [skip('no Roles or ClusterRoles in dist/')];
    return roles.map((role) => {
      const ref = refOf(role);
      const findings = ((role.object.rules ?? []) as Record<string, any>[]).flatMap((rule, index) => ruleFindings(rule).map((finding) => `rules[${index}] ${finding}`));
      return findings.length > 0
        ? fail([ref], `${formatRef(ref)} (${role.file}): ${findings.join('; ')}`)
        : pass([ref], `${formatRef(ref)}: ${(role.object.rules ?? []).length} rule(s), none wider than named objects`);
    });
  },
};
