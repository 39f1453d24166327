import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { K8sObject } from '../model';

type JsonSchema = Record<string, any>;

const K8S_SCHEMA_ID = 'k8s:definitions';
const OBJECT_META_REF = `${K8S_SCHEMA_ID}#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`;

/**
 * The Kubernetes 1.28 definitions and the CRD schemas found in the reference directory, compiled lazily
 * per kind: compiling all 570 definitions costs about a second, compiling the handful of kinds dist/ uses
 * a fraction of that.
 */
export class SchemaValidators {
  // Why these options: the definitions use x-kubernetes-* keywords and formats like int-or-string that
  // ajv's strict mode rejects; inlineRefs:false and optimize:false keep compilation of the large PodSpec
  // graph several times faster, and the schemas are already trusted, so they are not validated themselves.
  private readonly ajv = new Ajv({
    strict: false,
    allErrors: true,
    validateFormats: false,
    validateSchema: false,
    inlineRefs: false,
    code: { optimize: false },
  });
  private readonly refsByGroupVersionKind = new Map<string, string>();
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(kubernetesDefinitionsFile: string, crdFiles: readonly string[]) {
    const definitions = JSON.parse(fs.readFileSync(kubernetesDefinitionsFile, 'utf8')) as { definitions: Record<string, JsonSchema> };
    for (const [key, schema] of Object.entries(definitions.definitions)) {
      rejectUnknownFields(schema);
      for (const gvk of (schema['x-kubernetes-group-version-kind'] ?? []) as { group: string; version: string; kind: string }[]) {
        this.refsByGroupVersionKind.set(gvkKey(gvk.group, gvk.version, gvk.kind), `${K8S_SCHEMA_ID}#/definitions/${key}`);
      }
    }
    this.ajv.addSchema(definitions, K8S_SCHEMA_ID);
    for (const file of crdFiles) this.addCrd(file);
  }

  /** Whether a schema is known for this apiVersion and kind. */
  has(apiVersion: string, kind: string): boolean {
    return this.refsByGroupVersionKind.has(gvkKeyOf(apiVersion, kind));
  }

  /** Schema violations of the object as `path: message` lines; undefined when no schema is known. */
  validate(object: K8sObject): string[] | undefined {
    const ref = this.refsByGroupVersionKind.get(gvkKeyOf(object.apiVersion, object.kind));
    if (!ref) return undefined;
    let validateFunction = this.compiled.get(ref);
    if (!validateFunction) {
      validateFunction = this.ajv.getSchema(ref);
      if (!validateFunction) throw new Error(`schema ${ref} did not compile`);
      this.compiled.set(ref, validateFunction);
    }
    return validateFunction(object) ? [] : describeErrors(validateFunction.errors ?? []);
  }

  private addCrd(file: string): void {
    for (const crd of yaml.loadAll(fs.readFileSync(file, 'utf8')) as JsonSchema[]) {
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      const { group, names, versions } = crd.spec;
      for (const version of versions as JsonSchema[]) {
        const schema = structuredClone(version.schema?.openAPIV3Schema ?? {}) as JsonSchema;
        rejectUnknownFields(schema);
        // A CRD schema leaves metadata as a bare object; the API server still validates it as ObjectMeta.
        schema.properties = { ...schema.properties, metadata: { $ref: OBJECT_META_REF } };
        const id = `crd:${group}/${version.name}/${names.kind}`;
        this.ajv.addSchema(schema, id);
        this.refsByGroupVersionKind.set(gvkKey(group, version.name, names.kind), id);
      }
    }
  }
}

/**
 * The API server rejects unknown fields under strict field validation (kubectl's default since 1.27),
 * but the published definitions do not say so: close every object schema that lists its properties,
 * except where a CRD explicitly preserves unknown fields.
 */
function rejectUnknownFields(schema: JsonSchema): void {
  if (typeof schema !== 'object' || schema === null) return;
  delete schema.description;
  if (schema.properties) {
    if (schema.additionalProperties === undefined && !schema['x-kubernetes-preserve-unknown-fields']) {
      schema.additionalProperties = false;
    }
    for (const property of Object.values(schema.properties)) rejectUnknownFields(property as JsonSchema);
  }
  if (schema.items) rejectUnknownFields(schema.items);
  if (typeof schema.additionalProperties === 'object') rejectUnknownFields(schema.additionalProperties);
  for (const keyword of ['oneOf', 'anyOf', 'allOf']) {
    for (const branch of (schema[keyword] ?? []) as JsonSchema[]) rejectUnknownFields(branch);
  }
  // OpenAPI v3 'nullable' is not JSON Schema: widen the type so null passes where the CRD allows it.
  if (schema.nullable === true && typeof schema.type === 'string') schema.type = [schema.type, 'null'];
}

function gvkKey(group: string, version: string, kind: string): string {
  return `${group}/${version}/${kind}`;
}

function gvkKeyOf(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : ['', apiVersion];
  return gvkKey(group, version, kind);
}

function describeErrors(errors: readonly ErrorObject[]): string[] {
  const lines = new Set<string>();
  for (const error of errors) {
    // The branches of int-or-string and quantity each report a type error; the oneOf line says it once.
    if (error.schemaPath.includes('/oneOf/')) continue;
    const at = jsonPointerToPath(error.instancePath) || '(root)';
    if (error.keyword === 'additionalProperties') {
      const field = (error.params as { additionalProperty: string }).additionalProperty;
      lines.add(`${at === '(root)' ? '' : `${at}.`}${field}: unknown field`);
    } else if (error.keyword === 'oneOf') {
      lines.add(`${at}: has the wrong type`);
    } else if (error.keyword === 'enum') {
      lines.add(`${at}: must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`);
    } else {
      lines.add(`${at}: ${error.message}`);
    }
  }
  return [...lines];
}

function jsonPointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((result, segment) => (/^\d+$/.test(segment) ? `${result}[${segment}]` : result ? `${result}.${segment}` : segment), '');
}

/** The CRD files of a reference directory (e.g. dapr-crds/*.yaml). */
export function crdFilesIn(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}
