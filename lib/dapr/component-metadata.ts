import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import * as yaml from 'js-yaml';
import { referenceDir } from '../platform/project-files';

/**
 * Validates Dapr Component manifests against Dapr's machine-readable component metadata
 * (components-contrib `metadata.yaml` files, vendored in reference/dapr-component-metadata).
 * A validation library, not a construct: tests of synthesized components and the verifier both use it.
 */

/** One metadata property as a components-contrib metadata file describes it. */
export interface MetadataFieldSpec {
  readonly name: string;
  readonly required: boolean;
  readonly sensitive: boolean;
  readonly allowedValues?: readonly string[];
}

/** The alternatives a component offers for authenticating; a manifest must satisfy one of them. */
export interface AuthenticationProfileSpec {
  readonly title: string;
  readonly fields: readonly MetadataFieldSpec[];
}

/** What Dapr documents about one component type at one version, e.g. `state.postgresql` v2. */
export interface ComponentMetadataSpec {
  /** `spec.type` of a Component: `<kind>.<name>`, e.g. `pubsub.kafka`. */
  readonly type: string;
  readonly version: string;
  /** Properties that apply whatever the authentication profile. */
  readonly fields: readonly MetadataFieldSpec[];
  /** Own profiles first, then the built-in profiles the file references, in file order. */
  readonly authenticationProfiles: readonly AuthenticationProfileSpec[];
}

/** The loaded metadata files, looked up by Component `spec.type` and `spec.version`. */
export interface ComponentMetadataCatalog {
  readonly specs: readonly ComponentMetadataSpec[];
  find(type: string, version: string): ComponentMetadataSpec | undefined;
  versionsOf(type: string): readonly string[];
}

/** One problem in a Component manifest. `value` never holds the value of a sensitive property. */
export interface MetadataFinding {
  /** Where in the manifest, e.g. `spec.metadata[2]` or `spec.version`. */
  readonly path: string;
  /** The offending text: a property name, or a non-sensitive value. */
  readonly value: string;
  readonly rule: MetadataRuleId;
  readonly message: string;
}

/** The rules, with the one-line description a report shows. */
export const METADATA_RULES = {
  'component-kind': 'the object is a Component of apiVersion dapr.io/v1alpha1',
  'component-type-known': 'spec.type has a Dapr component metadata file',
  'component-version': 'spec.version is a version the metadata files describe for spec.type',
  'metadata-value-source': 'every metadata entry has a name and exactly one of value, secretKeyRef, envRef',
  'metadata-duplicate-name': 'no metadata name appears twice',
  'metadata-name-known': 'every metadata name is a property of the component or of one of its authentication profiles',
  'metadata-required': 'every required property is present, including those of the closest authentication profile',
  'metadata-allowed-values': 'a property with allowedValues has one of them',
  'metadata-auth-profile-field': 'an authentication property belongs to the profile the manifest satisfies',
  'metadata-sensitive-secret-ref': 'every sensitive property comes from secretKeyRef, never value or envRef',
  'dapr-code-required': 'a property the component code requires although its metadata file does not mark it required',
} as const;

export type MetadataRuleId = keyof typeof METADATA_RULES;

/**
 * Properties the component code requires beyond what its metadata file marks required.
 * pubsub.kafka: components-contrib `common/component/kafka/metadata.go` fails Init with "'authType'
 * attribute was missing or empty" (research/pg-dapr.md §4), while the file only makes authType
 * required inside each authentication profile.
 */
export const CODE_REQUIRED_METADATA: Readonly<Record<string, readonly string[]>> = {
  'pubsub.kafka': ['authType'],
};

/**
 * Properties the component code reads whatever the authentication profile, although the metadata file lists
 * them under one profile only. pubsub.kafka `caCert`: listed under 'mTLS Authentication', but components-contrib
 * `common/component/kafka/metadata.go` reads it before looking at authType, and `auth.go` updateTLSConfig makes
 * it the root CA of the TLS connection for every authType but none (docs.dapr.io's Kafka page: "required for
 * using TLS"), so SASL over TLS needs it too.
 */
export const CODE_PROFILE_INDEPENDENT_METADATA: Readonly<Record<string, readonly string[]>> = {
  'pubsub.kafka': ['caCert'],
};

/**
 * Properties the Dapr runtime itself reads for every component of a kind; the metadata files leave
 * them out (components-contrib `metadata/utils.go` BuiltInMetadataProperties, and the build tools
 * that append `consumerID` to every pub/sub).
 */
const RUNTIME_METADATA: Readonly<Record<string, readonly string[]>> = {
  state: ['actorStateStore', 'keyPrefix'],
  lock: ['keyPrefix'],
  pubsub: ['consumerID'],
};

const BUILTIN_PROFILES_FILE = 'builtin-authentication-profiles.yaml';
const SCHEMA_FILE = 'component-metadata-schema.json';

/** reference/dapr-component-metadata of the project. */
export function defaultComponentMetadataDir(): string {
  return path.join(referenceDir(), 'dapr-component-metadata');
}

interface RawMetadata {
  name: string;
  required?: boolean;
  sensitive?: boolean;
  allowedValues?: string[];
}

interface RawProfile {
  title: string;
  metadata?: RawMetadata[];
}

interface RawComponentFile {
  type: string;
  name: string;
  version: string;
  metadata?: RawMetadata[];
  authenticationProfiles?: RawProfile[];
  builtinAuthenticationProfiles?: { name: string; metadata?: RawMetadata[] }[];
}

const catalogs = new Map<string, ComponentMetadataCatalog>();

/**
 * Loads every component metadata file in `dir` (checked against the schema shipped next to them)
 * and expands the built-in authentication profiles they reference. Cached per directory.
 */
export function loadComponentMetadata(dir: string = defaultComponentMetadataDir()): ComponentMetadataCatalog {
  const cached = catalogs.get(dir);
  if (cached) return cached;

  const validateFile = new Ajv2020({ allErrors: true, strict: false }).compile(
    JSON.parse(fs.readFileSync(path.join(dir, SCHEMA_FILE), 'utf8')),
  );
  const builtinProfiles = yaml.load(fs.readFileSync(path.join(dir, BUILTIN_PROFILES_FILE), 'utf8')) as Record<
    string,
    RawProfile[]
  >;

  const specs = fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.yaml') && file !== BUILTIN_PROFILES_FILE)
    .sort()
    .map((file) => {
      const raw = yaml.load(fs.readFileSync(path.join(dir, file), 'utf8'));
      if (!validateFile(raw)) {
        throw new Error(`${file} does not match ${SCHEMA_FILE}: ${JSON.stringify(validateFile.errors)}`);
      }
      return toSpec(raw as RawComponentFile, builtinProfiles, file);
    });

  const catalog: ComponentMetadataCatalog = {
    specs,
    find: (type, version) => specs.find((spec) => spec.type === type && spec.version === version),
    versionsOf: (type) => specs.filter((spec) => spec.type === type).map((spec) => spec.version),
  };
  catalogs.set(dir, catalog);
  return catalog;
}

function toSpec(
  raw: RawComponentFile,
  builtinProfiles: Record<string, RawProfile[]>,
  file: string,
): ComponentMetadataSpec {
  // Same expansion as components-contrib .build-tools (ParseBuiltinAuthenticationProfile): each built-in
  // profile of the referenced name becomes a profile whose fields are the reference's own metadata
  // followed by the built-in profile's.
  const expandedBuiltins = (raw.builtinAuthenticationProfiles ?? []).flatMap((reference) => {
    const profiles = builtinProfiles[reference.name];
    if (!profiles) throw new Error(`${file} references unknown built-in authentication profile ${reference.name}`);
    return profiles.map((profile) => ({
      title: profile.title,
      fields: [...(reference.metadata ?? []), ...(profile.metadata ?? [])].map(toField),
    }));
  });
  return {
    type: `${raw.type}.${raw.name}`,
    version: raw.version,
    fields: (raw.metadata ?? []).map(toField),
    authenticationProfiles: [
      ...(raw.authenticationProfiles ?? []).map((profile) => ({
        title: profile.title,
        fields: (profile.metadata ?? []).map(toField),
      })),
      ...expandedBuiltins,
    ],
  };
}

function toField(raw: RawMetadata): MetadataFieldSpec {
  return {
    name: raw.name,
    required: raw.required === true,
    sensitive: raw.sensitive === true,
    ...(raw.allowedValues ? { allowedValues: raw.allowedValues } : {}),
  };
}

interface MetadataEntry {
  readonly index: number;
  readonly name: string;
  /** The value as daprd reads it (a string), or undefined when it comes from a secret or env var. */
  readonly value: string | undefined;
  readonly hasSecretKeyRef: boolean;
}

/**
 * Validates one Component manifest (plain JSON, e.g. `ApiObject.toJson()` or a document of dist/)
 * against the catalog. Returns no findings when it is valid.
 */
export function validateComponent(
  manifest: unknown,
  catalog: ComponentMetadataCatalog = loadComponentMetadata(),
): MetadataFinding[] {
  const object = asRecord(manifest);
  if (object.apiVersion !== 'dapr.io/v1alpha1' || object.kind !== 'Component') {
    const found = `${String(object.apiVersion)}/${String(object.kind)}`;
    return [finding('apiVersion', found, 'component-kind', 'expected apiVersion dapr.io/v1alpha1 and kind Component')];
  }
  const spec = asRecord(object.spec);
  const type = String(spec.type ?? '');
  const version = String(spec.version ?? '');
  const knownVersions = catalog.versionsOf(type);
  if (knownVersions.length === 0) {
    return [finding('spec.type', type, 'component-type-known', `no component metadata file describes type '${type}'`)];
  }
  const metadataSpec = catalog.find(type, version);
  if (!metadataSpec) {
    const message = `'${type}' is described for version(s) ${knownVersions.join(', ')}, not '${version}'`;
    return [finding('spec.version', version, 'component-version', message)];
  }
  const entries = readEntries(spec.metadata);
  return [...checkEntryShapes(spec.metadata), ...checkEntries(metadataSpec, entries)];
}

function checkEntryShapes(rawMetadata: unknown): MetadataFinding[] {
  if (rawMetadata === undefined) return [];
  if (!Array.isArray(rawMetadata)) {
    return [finding('spec.metadata', typeof rawMetadata, 'metadata-value-source', 'spec.metadata must be a list')];
  }
  return rawMetadata.flatMap((rawEntry, index) => {
    const entry = asRecord(rawEntry);
    const sources = ['value', 'secretKeyRef', 'envRef'].filter((key) => entry[key] !== undefined);
    if (typeof entry.name === 'string' && entry.name !== '' && sources.length === 1) return [];
    return [
      finding(
        `spec.metadata[${index}]`,
        typeof entry.name === 'string' ? entry.name : '',
        'metadata-value-source',
        `needs a name and exactly one of value, secretKeyRef, envRef (has ${sources.join(', ') || 'none'})`,
      ),
    ];
  });
}

function checkEntries(spec: ComponentMetadataSpec, entries: readonly MetadataEntry[]): MetadataFinding[] {
  const findings: MetadataFinding[] = [];
  const byName = new Map<string, MetadataEntry>();
  for (const entry of entries) {
    if (byName.has(entry.name)) {
      const message = `'${entry.name}' is set more than once`;
      findings.push(finding(entryPath(entry), entry.name, 'metadata-duplicate-name', message));
    } else {
      byName.set(entry.name, entry);
    }
  }

  const profileFields = spec.authenticationProfiles.flatMap((profile) => profile.fields);
  const allFields = [...spec.fields, ...profileFields];
  const runtimeNames = RUNTIME_METADATA[spec.type.split('.')[0]] ?? [];
  const knownNames = new Set([...allFields.map((field) => field.name), ...runtimeNames]);

  for (const entry of entries) {
    if (!knownNames.has(entry.name)) {
      const sameIgnoringCase = [...knownNames].find((name) => name.toLowerCase() === entry.name.toLowerCase());
      findings.push(
        finding(
          entryPath(entry),
          entry.name,
          'metadata-name-known',
          `'${entry.name}' is not a property of ${spec.type} ${spec.version}` +
            (sameIgnoringCase ? ` (the metadata file spells it '${sameIgnoringCase}')` : ''),
        ),
      );
    }
    if (allFields.some((field) => field.name === entry.name && field.sensitive) && !entry.hasSecretKeyRef) {
      const message = `'${entry.name}' is sensitive and must come from secretKeyRef`;
      findings.push(finding(entryPath(entry), entry.name, 'metadata-sensitive-secret-ref', message));
    }
  }

  const codeRequired = CODE_REQUIRED_METADATA[spec.type] ?? [];
  for (const name of codeRequired) {
    if (!byName.has(name)) {
      const message = `'${name}' is required by the ${spec.type} code`;
      findings.push(finding('spec.metadata', name, 'dapr-code-required', message));
    }
  }
  findings.push(...checkFields(spec.fields, byName, '', new Set(codeRequired)));
  findings.push(...checkAuthenticationProfiles(spec, byName, new Set(codeRequired)));
  return findings;
}

/**
 * Required and allowedValues checks of one set of fields; `context` names the profile, if any.
 * `acceptedValues` is what the message offers, which for a profile's field is every value any
 * profile accepts (authType=oidc is as valid a fix as authType=none).
 */
function checkFields(
  fields: readonly MetadataFieldSpec[],
  byName: ReadonlyMap<string, MetadataEntry>,
  context: string,
  alreadyReported: ReadonlySet<string>,
  acceptedValues: (field: MetadataFieldSpec) => readonly string[] = (field) => field.allowedValues ?? [],
): MetadataFinding[] {
  return fields.flatMap((field) => {
    const entry = byName.get(field.name);
    if (!entry) {
      return field.required && !alreadyReported.has(field.name)
        ? [finding('spec.metadata', field.name, 'metadata-required', `'${field.name}' is required${context}`)]
        : [];
    }
    if (!field.allowedValues || entry.value === undefined || field.allowedValues.includes(entry.value)) return [];
    return [
      finding(
        entryPath(entry),
        field.sensitive ? field.name : entry.value,
        'metadata-allowed-values',
        `'${field.name}' must be one of ${acceptedValues(field).join(', ')}${context}`,
      ),
    ];
  });
}

/**
 * A manifest must satisfy one authentication profile. When none is satisfied, the findings of the
 * closest one say what to fix;
 * when some are, properties of the other profiles are flagged since daprd ignores them silently.
 */
function checkAuthenticationProfiles(
  spec: ComponentMetadataSpec,
  byName: ReadonlyMap<string, MetadataEntry>,
  alreadyReported: ReadonlySet<string>,
): MetadataFinding[] {
  if (spec.authenticationProfiles.length === 0) return [];
  const acceptedByAnyProfile = (field: MetadataFieldSpec) => [
    ...new Set(
      spec.authenticationProfiles.flatMap((profile) =>
        profile.fields.filter((other) => other.name === field.name).flatMap((other) => other.allowedValues ?? []),
      ),
    ),
  ];
  const candidates = spec.authenticationProfiles.map((profile) => {
    const context = ` by authentication profile '${profile.title}'`;
    const problems = checkFields(profile.fields, byName, context, alreadyReported, acceptedByAnyProfile);
    // Counted apart from the findings: a name reported elsewhere still keeps this profile unsatisfied.
    const missing = profile.fields.filter((field) => field.required && !byName.has(field.name)).length;
    const disallowed = problems.filter((problem) => problem.rule === 'metadata-allowed-values').length;
    const used = profile.fields.filter((field) => byName.has(field.name)).length;
    return { profile, problems, missing, disallowed, used };
  });
  const satisfied = candidates.filter((candidate) => candidate.missing === 0 && candidate.disallowed === 0);
  if (satisfied.length === 0) {
    // A value the manifest sets (authType: password) says which profile was meant, so disallowed values
    // weigh more than missing properties. sort is stable: equally close profiles keep file order.
    const closest = [...candidates].sort(
      (a, b) => a.disallowed - b.disallowed || a.missing - b.missing || b.used - a.used,
    )[0];
    return closest.problems;
  }

  const fieldNames = (fields: readonly MetadataFieldSpec[]) => fields.map((field) => field.name);
  const usable = new Set([
    ...fieldNames(spec.fields),
    ...(CODE_PROFILE_INDEPENDENT_METADATA[spec.type] ?? []),
    ...satisfied.flatMap((candidate) => fieldNames(candidate.profile.fields)),
  ]);
  const ofAnyProfile = new Set(spec.authenticationProfiles.flatMap((profile) => fieldNames(profile.fields)));
  const titles = satisfied.map((candidate) => `'${candidate.profile.title}'`).join(', ');
  return [...byName.values()]
    .filter((entry) => ofAnyProfile.has(entry.name) && !usable.has(entry.name))
    .map((entry) => {
      const message = `'${entry.name}' is not used by the satisfied authentication profile ${titles}`;
      return finding(entryPath(entry), entry.name, 'metadata-auth-profile-field', message);
    });
}

function readEntries(rawMetadata: unknown): MetadataEntry[] {
  if (!Array.isArray(rawMetadata)) return [];
  return rawMetadata.flatMap((rawEntry, index) => {
    const entry = asRecord(rawEntry);
    if (typeof entry.name !== 'string' || entry.name === '') return [];
    return [
      {
        index,
        name: entry.name,
        value: readValue(entry.value),
        hasSecretKeyRef: entry.secretKeyRef !== undefined,
      },
    ];
  });
}

/** daprd reads every value as text (DynamicValue), so `true` and 'true' are the same setting. */
function readValue(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function entryPath(entry: MetadataEntry): string {
  return `spec.metadata[${entry.index}]`;
}

function finding(findingPath: string, value: string, rule: MetadataRuleId, message: string): MetadataFinding {
  return { path: findingPath, value, rule, message };
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
