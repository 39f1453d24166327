import * as fs from 'node:fs';
import * as yaml from 'js-yaml';
import { z } from 'zod';
import { daprDefaults, daprProfiles } from './dapr';
import { kafkaDefaults, kafkaProfiles } from './kafka';
import { observabilityDefaults, observabilityProfiles } from './observability';
import { platformDefaults, platformProfiles } from './platform';
import { postgresDefaults, postgresProfiles } from './postgres';
import { type LearnflowConfig, learnflowConfig, PROFILES, type ProfileName } from './schema';

/** One rule broken by one value: what the user must fix. */
export interface ConfigProblem {
  readonly path: string;
  readonly value: unknown;
  readonly rule: string;
}

// An error message shows what it must and no more: a value, a key or a rule built from the input is cut
// to a few lines, however large the input (a long key, a huge list, an alias-expanded tree).
const MAX_VALUE_CHARS = 80;
const MAX_SEGMENT_CHARS = 60;
const MAX_RULE_CHARS = 300;

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      [
        `invalid configuration (${source}):`,
        ...problems.map((p) => `  ${shorten(p.path, MAX_RULE_CHARS)}: ${shorten(p.rule, MAX_RULE_CHARS)} (got ${describe(p.value)})`),
      ].join('\n'),
    );
    this.name = 'ConfigError';
  }
}

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** The value as JSON, cut at MAX_VALUE_CHARS without serializing the rest (which may be huge, or refer to itself). */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text = '';
  for (const token of jsonTokens(value)) {
    text += token;
    if (text.length > MAX_VALUE_CHARS) return shorten(text, MAX_VALUE_CHARS);
  }
  return text;
}

function* jsonTokens(value: unknown): Generator<string> {
  if (Array.isArray(value)) {
    yield '[';
    for (const [i, item] of value.entries()) {
      if (i > 0) yield ',';
      yield* jsonTokens(item);
    }
    yield ']';
  } else if (isPlain(value)) {
    yield '{';
    for (const [i, [key, item]] of Object.entries(value).entries()) {
      yield `${i > 0 ? ',' : ''}${JSON.stringify(key.slice(0, MAX_VALUE_CHARS))}:`;
      yield* jsonTokens(item);
    }
    yield '}';
  } else {
    // Dates (YAML timestamps) print as JSON prints them; a long string is cut before it is escaped.
    yield JSON.stringify(typeof value === 'string' ? value.slice(0, MAX_VALUE_CHARS) : value) ?? String(value);
  }
}

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/**
 * Lists of named things, by path, and the key that names their entries. An override's entry changes the
 * entry of the same name (key by key), adds a new one at the end, or removes it with `$remove: true`.
 * Other lists (app-ids, namespaces) replace the list they override.
 */
const NAMED_LISTS: Readonly<Record<string, string>> = { 'kafka.topics': 'name', 'dapr.subscriptions': 'topic', 'dapr.publications': 'topic' };
const REMOVE = '$remove';

type PathSegment = string | number | { readonly entry: string };

/** `kafka.topics[learning.query].partitions`: entries of named lists by name, other list items by index. */
function formatPath(path: readonly PathSegment[]): string {
  return path.reduce<string>((text, segment) => {
    if (typeof segment === 'number') return `${text}[${segment}]`;
    if (typeof segment === 'object') return `${text}[${shorten(segment.entry, MAX_SEGMENT_CHARS)}]`;
    const key = shorten(segment, MAX_SEGMENT_CHARS);
    return text ? `${text}.${key}` : key;
  }, '');
}

/** A path into the merged input for display: list indices of named lists become the entry's name. */
function displayPath(input: unknown, path: readonly (string | number)[]): PathSegment[] {
  let node = input;
  return path.map((segment, i) => {
    const key = typeof segment === 'number' ? NAMED_LISTS[path.slice(0, i).join('.')] : undefined;
    node = (node as Record<string | number, unknown> | undefined)?.[segment];
    const name = key && isPlain(node) ? node[key] : undefined;
    return typeof name === 'string' ? { entry: name } : segment;
  });
}

function valueAt(input: unknown, path: readonly (string | number)[]): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string | number, unknown> | undefined)?.[key], input);
}

/** Merges one layer over another: objects key by key, named lists by name, anything else replaced. */
function mergeLayer(base: unknown, override: unknown, source: string): unknown {
  const problems: ConfigProblem[] = [];
  const merged = merge(base, override, [], problems);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return merged;
}

function merge(base: unknown, override: unknown, path: readonly string[], problems: ConfigProblem[]): unknown {
  const key = NAMED_LISTS[path.join('.')];
  if (key && Array.isArray(base) && Array.isArray(override)) return mergeByName(base, override, key, path, problems);
  if (!isPlain(base) || !isPlain(override)) {
    return override === undefined ? base : override;
  }
  const merged: Plain = { ...base };
  for (const [name, value] of Object.entries(override)) {
    merged[name] = merge(base[name], value, [...path, name], problems);
  }
  return merged;
}

function mergeByName(base: unknown[], override: unknown[], key: string, path: readonly string[], problems: ConfigProblem[]): unknown[] {
  const entries = new Map(base.map((entry) => [(entry as Plain)[key], entry]));
  const seen = new Map<unknown, number>();
  override.forEach((entry, i) => {
    const name = isPlain(entry) ? entry[key] : undefined;
    if (typeof name !== 'string') {
      const rule = `is required: the entries of ${path.join('.')} are merged by ${key}`;
      problems.push({ path: formatPath([...path, i, key]), value: name ?? entry, rule });
      return;
    }
    const at = (...rest: string[]) => formatPath([...path, { entry: name }, ...rest]);
    const twice = seen.get(name);
    seen.set(name, i);
    if (twice !== undefined) {
      problems.push({ path: at(key), value: name, rule: `is listed twice in the override (entries ${twice} and ${i}): give each ${key} once` });
      return;
    }
    const { [REMOVE]: remove, [key]: _name, ...settings } = entry as Plain;
    if (remove === undefined) {
      entries.set(name, merge(entries.get(name), entry, [...path, name], problems));
    } else if (remove !== true) {
      problems.push({ path: at(REMOVE), value: remove, rule: `must be true (removes the entry) or left out` });
    } else if (Object.keys(settings).length > 0) {
      problems.push({ path: at(REMOVE), value: settings, rule: `removes the entry: give only ${key} and ${REMOVE}, no other settings` });
    } else if (!entries.delete(name)) {
      problems.push({ path: at(key), value: name, rule: `cannot be removed: no such entry in ${path.join('.')}` });
    }
  });
  return [...entries.values()];
}

function problemsOf(error: z.ZodError, input: unknown): ConfigProblem[] {
  return error.issues.map((issue) => {
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      const [first, ...others] = issue.keys;
      const parent = formatPath(displayPath(input, issue.path)) || 'the configuration';
      return {
        path: formatPath(displayPath(input, [...issue.path, first])),
        value: valueAt(input, [...issue.path, first]),
        rule: `unknown key${others.length > 0 ? `s ${issue.keys.join(', ')}` : ''}: not a setting of ${parent}`,
      };
    }
    // zod's own enum message repeats the value, however long: the options are the rule.
    const rule = issue.code === z.ZodIssueCode.invalid_enum_value ? `must be one of ${issue.options.join(', ')}` : issue.message;
    return { path: formatPath(displayPath(input, issue.path)) || '(root)', value: valueAt(input, issue.path), rule };
  });
}

export interface LoadConfigOptions {
  /** @default 'minikube' */
  readonly profile?: string;
  /** A YAML file merged over the profile. @default - no override */
  readonly overrideFile?: string;
  /** An object merged over the profile (and the file), for programmatic use and tests. @default - none */
  readonly override?: unknown;
}

/** Validate once, at the edge: profile defaults, then the override file, then a programmatic override. */
export function loadConfig(options: LoadConfigOptions = {}): LearnflowConfig {
  const profile = options.profile ?? 'minikube';
  if (!(PROFILES as readonly string[]).includes(profile)) {
    throw new ConfigError('--profile', [{ path: 'profile', value: profile, rule: `must be one of ${PROFILES.join(', ')}` }]);
  }
  let input: unknown = profileLayer(profile as ProfileName);
  let source = `profile ${profile}`;
  if (options.overrideFile) {
    input = mergeLayer(input, checkOverride(readOverrideFile(options.overrideFile), options.overrideFile), options.overrideFile);
    source += ` + ${options.overrideFile}`;
  }
  if (options.override !== undefined) {
    input = mergeLayer(input, checkOverride(options.override, 'override'), 'override');
  }
  const result = learnflowConfig.safeParse(input);
  if (!result.success) {
    throw new ConfigError(source, problemsOf(result.error, input));
  }
  return result.data;
}

function profileLayer(profile: ProfileName): unknown {
  const defaults = { profile, development: profile !== 'production', platform: platformDefaults, kafka: kafkaDefaults, postgres: postgresDefaults, dapr: daprDefaults, observability: observabilityDefaults };
  const profiles = { platform: platformProfiles[profile], kafka: kafkaProfiles[profile], postgres: postgresProfiles[profile], dapr: daprProfiles[profile], observability: observabilityProfiles[profile] };
  return mergeLayer(defaults, profiles, `profile ${profile}`);
}

/**
 * The profile decides what it implies (test users only in development profiles, the endpoints
 * document's profile line, deploy's profile check): an override may not contradict it.
 */
function checkOverride(override: unknown, source: string): unknown {
  checkExpansion(override, source);
  const problems = ['profile', 'development']
    .filter((key) => isPlain(override) && key in override)
    .map((key) => ({ path: key, value: (override as Plain)[key], rule: 'is set by --profile, not by an override' }));
  if (problems.length > 0) throw new ConfigError(source, problems);
  return override;
}

// js-yaml bounds nesting (maxDepth) and merge keys (maxTotalMergeKeys), not aliases: an alias is a
// reference, so `a: &a [x, x, x]`, `b: &b [*a, *a, *a]`, ... parses in milliseconds into a value that
// expands exponentially once merged, validated or printed ("billion laughs"), and `a: &a {b: *a}`
// refers to itself. Sizes are counted once per distinct node, so the check is linear in the file.
const MAX_OVERRIDE_VALUES = 100_000;
const MAX_OVERRIDE_DEPTH = 32;

function checkExpansion(override: unknown, source: string): void {
  const measured = new Map<object, { values: number; depth: number }>();
  const tooDeep = () =>
    new ConfigError(source, [{ path: '(root)', value: source, rule: `nests deeper than ${MAX_OVERRIDE_DEPTH} levels, or refers to itself through a YAML alias` }]);
  const measure = (node: unknown, depth: number): { values: number; depth: number } => {
    if (typeof node !== 'object' || node === null) return { values: 1, depth: 0 };
    const known = measured.get(node);
    if (known && depth + known.depth > MAX_OVERRIDE_DEPTH) throw tooDeep();
    if (known) return known;
    if (depth > MAX_OVERRIDE_DEPTH) throw tooDeep();
    const size = { values: 1, depth: 1 };
    for (const child of Object.values(node)) {
      const inner = measure(child, depth + 1);
      size.values += inner.values;
      size.depth = Math.max(size.depth, inner.depth + 1);
      if (size.values > MAX_OVERRIDE_VALUES) break;
    }
    measured.set(node, size);
    return size;
  };
  if (measure(override, 0).values > MAX_OVERRIDE_VALUES) {
    const rule = `holds more than ${MAX_OVERRIDE_VALUES} values once its YAML aliases (*name) are expanded; write the settings out instead`;
    throw new ConfigError(source, [{ path: '(root)', value: source, rule }]);
  }
}

/** An override file holds settings, not data: a larger one is refused before it is read whole. */
const MAX_OVERRIDE_BYTES = 1024 * 1024;

function readOverrideFile(file: string): unknown {
  let bytes: Buffer;
  try {
    bytes = readAtMost(file, MAX_OVERRIDE_BYTES + 1);
  } catch (error) {
    throw new ConfigError(file, [{ path: '(file)', value: file, rule: `cannot be read: ${(error as Error).message}` }]);
  }
  if (bytes.length > MAX_OVERRIDE_BYTES) {
    throw new ConfigError(file, [{ path: '(file)', value: file, rule: `is larger than ${MAX_OVERRIDE_BYTES / 1024} KiB: an override holds settings, not data` }]);
  }
  let parsed: unknown;
  try {
    parsed = yaml.load(bytes.toString('utf8'), { filename: file });
  } catch (error) {
    throw new ConfigError(file, [{ path: '(file)', value: file, rule: `is not valid YAML: ${(error as Error).message.split('\n')[0]}` }]);
  }
  if (parsed !== undefined && parsed !== null && !isPlain(parsed)) {
    throw new ConfigError(file, [{ path: '(root)', value: parsed, rule: 'must be a YAML mapping' }]);
  }
  return parsed ?? {};
}

/** The first `limit` bytes of a file (all of it when shorter), whatever it is: a pipe may never end, a device may lie about its size. */
function readAtMost(file: string, limit: number): Buffer {
  const buffer = Buffer.alloc(limit);
  const fd = fs.openSync(file, 'r');
  try {
    let length = 0;
    while (length < limit) {
      const read = fs.readSync(fd, buffer, length, limit - length, null);
      if (read === 0) break;
      length += read;
    }
    return buffer.subarray(0, length);
  } finally {
    fs.closeSync(fd);
  }
}
