import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone';
import * as yaml from 'js-yaml';
import type { K8sObject } from '../model';

type JsonSchema = Record<string, any>;

const K8S_SCHEMA_ID = 'k8s:definitions';
const AJV_VERSION: string = require('ajv/package.json').version;
const OBJECT_META_REF = `${K8S_SCHEMA_ID}#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`;

/** Options that keep compilation of the large PodSpec graph fast; see SchemaCompiler. */
const AJV_OPTIONS = {
  strict: false,
  allErrors: true,
  validateFormats: false,
  validateSchema: false,
  inlineRefs: false,
  code: { optimize: false, source: true },
} as const;

// Bump when the schema transformation or the generated code changes meaning, to invalidate caches.
const CACHE_FORMAT = 1;

/**
 * Validators for the Kubernetes 1.28 definitions and the CRD schemas of the reference directory.
 * Compiling the definitions a StatefulSet pulls in costs a few hundred milliseconds, so each compiled
 * validator is kept as generated code in a cache directory keyed by the content of every input; a
 * static verify then loads code instead of compiling (PRODUCT.md: static verify <= 1 s).
 */
export class SchemaValidators {
  private compiler?: SchemaCompiler;
  private index?: Record<string, string>;
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly cacheDir: string | undefined;

  constructor(
    private readonly kubernetesDefinitionsFile: string,
    private readonly crdFiles: readonly string[],
    cacheRoot: string | undefined = defaultCacheRoot(),
  ) {
    const hash = createHash('sha256').update(`${CACHE_FORMAT}:${AJV_VERSION}:${JSON.stringify(AJV_OPTIONS)}`);
    for (const file of [kubernetesDefinitionsFile, ...crdFiles]) hash.update(file).update(fromReference(file, () => fs.readFileSync(file)));
    this.cacheDir = cacheRoot && path.join(cacheRoot, hash.digest('hex').slice(0, 16));
  }

  /** Schema violations of the object as `path: message` lines; undefined when no schema is known. */
  validate(object: K8sObject): string[] | undefined {
    const key = gvkKeyOf(object.apiVersion, object.kind);
    const validateFunction = this.validatorFor(key);
    if (!validateFunction) return undefined;
    return validateFunction(object) ? [] : describeErrors(validateFunction.errors ?? []);
  }

  private validatorFor(key: string): ValidateFunction | undefined {
    const cached = this.validators.get(key);
    if (cached) return cached;
    const ref = this.schemaIndex()[key];
    if (!ref) return undefined;
    const file = this.cacheDir && path.join(this.cacheDir, `${key.replace(/[^\w.-]/g, '_')}.js`);
    let validateFunction = file && fs.existsSync(file) ? loadGeneratedModule(fs.readFileSync(file, 'utf8')) : undefined;
    if (!validateFunction) {
      const compiled = this.schemaCompiler().compile(ref);
      validateFunction = compiled.validate;
      if (file) writeAtomically(file, compiled.source);
    }
    this.validators.set(key, validateFunction);
    return validateFunction;
  }

  /** group/version/kind -> schema id, for every kind the reference data describes. */
  private schemaIndex(): Record<string, string> {
    if (!this.index) {
      const file = this.cacheDir && path.join(this.cacheDir, 'index.json');
      this.index = file && fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>) : undefined;
      if (!this.index) {
        this.index = Object.fromEntries(this.schemaCompiler().refsByGroupVersionKind);
        if (file) writeAtomically(file, JSON.stringify(this.index));
      }
    }
    return this.index;
  }

  private schemaCompiler(): SchemaCompiler {
    this.compiler ??= new SchemaCompiler(this.kubernetesDefinitionsFile, this.crdFiles);
    return this.compiler;
  }
}

/** The reference data cannot be read, parsed or compiled: the checks that need it cannot judge anything. */
export class ReferenceDataError extends Error {}

/**
 * Runs `read`; whatever it throws becomes a ReferenceDataError that says where: `<where>: <reason>`,
 * the reason's first line only (js-yaml appends a snippet of the file).
 */
export function fromReference<T>(where: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new ReferenceDataError(`${where}: ${(error as Error).message.split('\n')[0]}`);
  }
}

function defaultCacheRoot(): string | undefined {
  if (process.env.LEARNFLOW_VERIFY_CACHE === 'off') return undefined;
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'learnflow-infra', 'verify-schemas');
}

// The generated code requires ajv's runtime helpers (ajv/dist/runtime/*): resolve them from this
// project, not from the cache directory, which has no node_modules.
const projectRequire = createRequire(__filename);

function loadGeneratedModule(source: string): ValidateFunction | undefined {
  try {
    const module = { exports: {} as unknown };
    new Function('module', 'exports', 'require', source)(module, module.exports, projectRequire);
    return typeof module.exports === 'function' ? (module.exports as ValidateFunction) : undefined;
  } catch {
    return undefined; // a corrupt or foreign cache entry: compile again
  }
}

function writeAtomically(file: string, content: string): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, content);
    fs.renameSync(temporary, file);
  } catch {
    // A read-only home only costs speed.
  }
}

/** Parses and transforms the reference schemas and compiles one kind at a time, with its source code. */
class SchemaCompiler {
  // Why these options: the definitions use x-kubernetes-* keywords and formats like int-or-string that
  // ajv's strict mode rejects; inlineRefs:false and optimize:false keep compilation several times faster,
  // and the schemas are already trusted, so they are not validated themselves.
  private readonly ajv = new Ajv(AJV_OPTIONS);
  readonly refsByGroupVersionKind = new Map<string, string>();

  constructor(kubernetesDefinitionsFile: string, crdFiles: readonly string[]) {
    const definitions = fromReference(kubernetesDefinitionsFile, () => JSON.parse(fs.readFileSync(kubernetesDefinitionsFile, 'utf8'))) as {
      definitions: Record<string, JsonSchema>;
    };
    for (const [key, schema] of Object.entries(definitions.definitions)) {
      rejectUnknownFields(schema);
      for (const gvk of (schema['x-kubernetes-group-version-kind'] ?? []) as { group: string; version: string; kind: string }[]) {
        this.refsByGroupVersionKind.set(gvkKey(gvk.group, gvk.version, gvk.kind), `${K8S_SCHEMA_ID}#/definitions/${key}`);
      }
    }
    this.ajv.addSchema(definitions, K8S_SCHEMA_ID);
    for (const file of crdFiles) this.addCrd(file);
  }

  compile(ref: string): { validate: ValidateFunction; source: string } {
    // A definition that refers to one the reference data lacks (a bad trim) fails here.
    const validate = fromReference(`schema ${ref} does not compile`, () => this.ajv.getSchema(ref));
    if (!validate) throw new Error(`schema ${ref} did not compile`);
    return { validate, source: standaloneCode(this.ajv, validate) };
  }

  private addCrd(file: string): void {
    for (const crd of fromReference(file, () => yaml.loadAll(fs.readFileSync(file, 'utf8'))) as JsonSchema[]) {
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
  if (typeof schema.pattern === 'string') schema.pattern = ecmaPattern(schema.pattern);
}

/**
 * CRD patterns are Go (RE2) regular expressions, and JSON Schema's are ECMAScript's: RE2's inline
 * case-insensitive flag `(?i)`, which JavaScript lacks (prometheus-operator's PrometheusRule uses it),
 * becomes a [xX] class for each letter of a pattern that has no classes of its own.
 */
export function ecmaPattern(pattern: string): string {
  if (!pattern.includes('(?i)')) return pattern;
  if (pattern.includes('[') || /\\[A-Za-z]/.test(pattern)) throw new Error(`pattern ${pattern}: (?i) is only translated for patterns without classes or escapes`);
  return pattern.replace('(?i)', '').replace(/[A-Za-z]/g, (letter) => `[${letter.toLowerCase()}${letter.toUpperCase()}]`);
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
