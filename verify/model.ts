/** A Kubernetes object as read from YAML: only the envelope is typed, the rest is whatever the file says. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  // The verifier judges hand-edited YAML, so nothing below the envelope can be trusted to have a shape.
  [key: string]: any;
}

/** An object of dist/ with where it came from: the file name and its position among the file's documents. */
export interface DistObject {
  readonly object: K8sObject;
  readonly file: string;
  readonly index: number;
}

/** What a finding points at, so a person can find it: kind, namespace, name and, for dist/ objects, the file. */
export interface ObjectRef {
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly file?: string;
}

export type Component = 'platform' | 'kafka' | 'postgres' | 'dapr' | 'cluster';

/**
 * pass: the rule holds. fail: a finding (exit 1). warn: worth a look, not a finding. skip: not applicable
 * (the thing the check guards is absent). error: could not check (exit 2), e.g. a cluster call failed.
 */
export type Status = 'pass' | 'fail' | 'warn' | 'skip' | 'error';

export interface CheckResult {
  readonly status: Status;
  readonly objects: readonly ObjectRef[];
  readonly message: string;
  /** Overrides the check's remediation when a finding needs a more specific fix. */
  readonly remediation?: string;
}

/** Static checks read dist/ and the reference data; live checks also read a cluster. */
export type CheckMode = 'static' | 'live';

export interface Check<Context> {
  /** kebab-case, stable: tests, JSON consumers and people refer to checks by id. */
  readonly id: string;
  readonly description: string;
  readonly component: Component;
  /** How to fix a failure, in one line (a finding may carry a more specific one). */
  readonly remediation: string;
  run(context: Context): readonly CheckResult[] | Promise<readonly CheckResult[]>;
}

export function refOf({ object, file }: DistObject): ObjectRef {
  return { kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, file };
}

export function formatRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

export const pass = (objects: readonly ObjectRef[], message: string): CheckResult => ({ status: 'pass', objects, message });
export const fail = (objects: readonly ObjectRef[], message: string, remediation?: string): CheckResult => ({
  status: 'fail',
  objects,
  message,
  ...(remediation ? { remediation } : {}),
});
export const warn = (objects: readonly ObjectRef[], message: string, remediation?: string): CheckResult => ({
  status: 'warn',
  objects,
  message,
  ...(remediation ? { remediation } : {}),
});
export const skip = (message: string): CheckResult => ({ status: 'skip', objects: [], message });
