import type { Dist } from '../../verify/dist';
import { type CheckResult, fail, pass } from '../../verify/model';
import { GET_TIMEOUT_MS, REQUEST_TIMEOUT } from '../kubectl';
import type { KubeList, PreflightCheck } from './preflight';

// Storage for the claims of dist/: a default StorageClass, and every class they name.

interface StorageClass {
  readonly metadata: { readonly name: string; readonly annotations?: Record<string, string> };
}

const DEFAULT_CLASS_ANNOTATIONS = ['storageclass.kubernetes.io/is-default-class', 'storageclass.beta.kubernetes.io/is-default-class'];

/** The StorageClasses dist/ asks for by name, and the claims that name none (they need the default). */
function storageNeeds(dist: Dist): { named: Map<string, string[]>; unnamed: string[] } {
  const named = new Map<string, string[]>();
  const unnamed: string[] = [];
  const need = (claimSpec: Record<string, any> | undefined, owner: string) => {
    const className = claimSpec?.storageClassName;
    // "" asks for no class at all (pre-provisioned volumes): neither a default nor a named class.
    if (className === '') return;
    if (typeof className === 'string') named.set(className, [...(named.get(className) ?? []), owner]);
    else unnamed.push(owner);
  };
  for (const { object } of dist.objects) {
    const owner = `${object.kind.toLowerCase()}/${object.metadata.name}`;
    if (object.kind === 'PersistentVolumeClaim') need(object.spec, owner);
    if (object.kind === 'StatefulSet') for (const template of object.spec?.volumeClaimTemplates ?? []) need(template?.spec, owner);
  }
  return { named, unnamed: [...new Set(unnamed)] };
}

export const storageClassCheck: PreflightCheck = {
  id: 'preflight-storage-class',
  description: 'a default StorageClass for the claims that name none, and every StorageClass the claims name',
  component: 'cluster',
  remediation: 'install a provisioner and mark its class default',
  needs: ['dist', 'cluster'],
  run: (context) => {
    const listed = context.kubectl.json<KubeList<StorageClass>>(['get', 'storageclasses', REQUEST_TIMEOUT], GET_TIMEOUT_MS);
    if (!listed.value) return [context.cannotRead('list StorageClasses', listed.reason, ['list', 'storageclasses'])];
    const classes = listed.value.items ?? [];
    const names = classes.map((storageClass) => storageClass.metadata.name);
    const defaults = classes.filter((storageClass) => DEFAULT_CLASS_ANNOTATIONS.some((key) => storageClass.metadata.annotations?.[key] === 'true'));
    const needs = storageNeeds(context.readDist);
    const results: CheckResult[] = [];
    if (needs.unnamed.length > 0 && defaults.length === 0) {
      results.push(
        fail(
          [],
          `${classes.length === 0 ? 'the cluster has no StorageClass' : `none of the StorageClasses (${names.join(', ')}) is the default`}: ` +
            `${needs.unnamed.join(', ')} claim volumes without a storageClassName; without a default class the claims stay Pending and the pods never start`,
          names[0]
            ? `\`kubectl patch storageclass ${names[0]} -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}'\``
            : '`minikube addons enable storage-provisioner && minikube addons enable default-storageclass`, or install a provisioner and mark its class default',
        ),
      );
    }
    for (const [className, owners] of needs.named) {
      if (names.includes(className)) continue;
      results.push(
        fail(
          [],
          `StorageClass ${className} does not exist: ${owners.join(', ')} ask for it by name; their claims would stay Pending`,
          `create it, or set storage.storageClassName in the config to one of: ${names.join(', ') || '(none)'}, then \`npm run synth\``,
        ),
      );
    }
    if (results.length > 0) return results;
    return [pass([], defaults.map((c) => c.metadata.name).join(', ') || `named classes only (${[...needs.named.keys()].join(', ')})`)];
  },
};
