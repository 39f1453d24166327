import * as fs from 'node:fs';
import * as yaml from 'js-yaml';
import { z } from 'zod';
import { daprDefaults, daprProfiles } from './dapr';
import { kafkaDefaults, kafkaProfiles } from './kafka';
import { platformDefaults, platformProfiles } from './platform';
import { postgresDefaults, postgresProfiles } from './postgres';
import { type LearnflowConfig, learnflowConfig, type ProfileName, PROFILES } from './schema';

/** One rule broken by one value: what the user must fix. */
export interface ConfigProblem {
  readonly path: string;
  readonly value: unknown;
  readonly rule: string;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      [`invalid configuration (${source}):`, ...problems.map((p) => `  ${p.path}: ${p.rule} (got ${describe(p.value)})`)].join(
        '\n',
      ),
    );
    this.name = 'ConfigError';
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; arrays and scalars in the override replace the base. */
export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlain(base) || !isPlain(override)) {
    return override === undefined ? base : override;
  }
  const merged: Plain = { ...base };
  for (const [key, value] of Object.entries(override)) {
    merged[key] = deepMerge(base[key], value);
  }
  return merged;
}

function profileLayer(profile: ProfileName): Plain {
  return {
    profile,
    development: profile !== 'production',
    platform: deepMerge(platformDefaults, platformProfiles[profile]),
    kafka: deepMerge(kafkaDefaults, kafkaProfiles[profile]),
    postgres: deepMerge(postgresDefaults, postgresProfiles[profile]),
    dapr: deepMerge(daprDefaults, daprProfiles[profile]),
  };
}

function formatPath(path: readonly (string | number)[]): string {
  return path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${key}` : key), '');
}

function valueAt(input: unknown, path: readonly (string | number)[]): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string | number, unknown> | undefined)?.[key], input);
}

function problemsOf(error: z.ZodError, input: unknown): ConfigProblem[] {
  return error.issues.map((issue) => {
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      return {
        path: formatPath([...issue.path, issue.keys[0]]),
        value: valueAt(input, [...issue.path, issue.keys[0]]),
        rule: `unknown key${issue.keys.length > 1 ? `s ${issue.keys.join(', ')}` : ''}: not a setting of ${formatPath(issue.path) || 'the configuration'}`,
      };
    }
    return { path: formatPath(issue.path) || '(root)', value: valueAt(input, issue.path), rule: issue.message };
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
    input = deepMerge(input, checkOverride(readOverrideFile(options.overrideFile), options.overrideFile));
    source += ` + ${options.overrideFile}`;
  }
  if (options.override !== undefined) {
    input = deepMerge(input, checkOverride(options.override, 'override'));
  }
  const result = learnflowConfig.safeParse(input);
  if (!result.success) {
    throw new ConfigError(source, problemsOf(result.error, input));
  }
  return result.data;
}

/**
 * The profile decides what it implies (test users only in development profiles, the endpoints
 * document's profile line, deploy's profile check): an override may not contradict it.
 */
function checkOverride(override: unknown, source: string): unknown {
  const problems = ['profile', 'development']
    .filter((key) => isPlain(override) && key in override)
    .map((key) => ({ path: key, value: (override as Plain)[key], rule: 'is set by --profile, not by an override' }));
  if (problems.length > 0) throw new ConfigError(source, problems);
  return override;
}

function readOverrideFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [{ path: '(file)', value: file, rule: `cannot be read: ${(error as Error).message}` }]);
  }
  let parsed: unknown;
  try {
    parsed = yaml.load(text, { filename: file });
  } catch (error) {
    throw new ConfigError(file, [{ path: '(file)', value: file, rule: `is not valid YAML: ${(error as Error).message.split('\n')[0]}` }]);
  }
  if (parsed !== undefined && parsed !== null && !isPlain(parsed)) {
    throw new ConfigError(file, [{ path: '(root)', value: parsed, rule: 'must be a YAML mapping' }]);
  }
  return parsed ?? {};
}
