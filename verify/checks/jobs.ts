import { MAX_JOB_BACKOFF_LIMIT } from '../../lib/config/job-limits';
import { CONTENT_HASH_LENGTH, hashedJobContentHash } from '../../lib/platform/content-hash';
import { SYNC_WAVE_ANNOTATION } from '../../lib/platform/gitops';
import type { StaticContext } from '../context';
import type { Dist } from '../dist';
import { type Check, type CheckResult, type DistObject, fail, formatRef, pass, refOf, skip } from '../model';
import { namespaceOf, objectsOfKind } from '../workloads';

const HASHED_NAME = new RegExp(`^(.+)-([0-9a-f]{${CONTENT_HASH_LENGTH}})$`);

/** The ConfigMap a hashed Job runs files from: it shares the Job's name (lib/platform/hashed-job.ts). */
function ownConfigMap(dist: Dist, job: DistObject): DistObject | undefined {
  return objectsOfKind(dist, 'ConfigMap').find((item) => item.object.metadata.name === job.object.metadata.name && namespaceOf(item) === namespaceOf(job));
}

/** The hash of a Job as it reads in dist/, recomputed the way synth computes it. */
function recomputedHash(job: DistObject, configMap: DistObject | undefined): string {
  const { name } = job.object.metadata;
  const spec = structuredClone(job.object.spec ?? {});
  // The name carries the hash, so the hash cannot cover it: synth renders the spec with ''.
  for (const volume of (spec.template?.spec?.volumes ?? []) as Record<string, any>[]) {
    if (volume?.configMap?.name === name) volume.configMap.name = '';
  }
  // The sync wave follows the file the Job is in, not its content.
  const { [SYNC_WAVE_ANNOTATION]: _wave, ...annotations } = job.object.metadata.annotations ?? {};
  return hashedJobContentHash({ files: configMap?.object.data ?? {}, spec, labels: job.object.metadata.labels ?? {}, annotations });
}

export const jobContentHash: Check<StaticContext> = {
  id: 'job-content-hash',
  description: 'every Job name ends with the hash of its spec and its ConfigMap, recomputed: a Job or ConfigMap edited without renaming is a finding',
  component: 'platform',
  remediation: 'run npm run synth rather than editing dist/; a deliberate hand edit must rename the Job, its ConfigMap and the volume to <name>-<new hash>',
  run: ({ dist }) => {
    const jobs = objectsOfKind(dist, 'Job');
    if (jobs.length === 0) return [skip('no Jobs in dist/')];
    return jobs.map((job) => {
      const ref = refOf(job);
      const at = `${formatRef(ref)} (${job.file})`;
      const named = HASHED_NAME.exec(job.object.metadata.name);
      if (!named) {
        return fail([ref], `${at}: metadata.name has no content-hash suffix (-<${CONTENT_HASH_LENGTH} hex digits>); re-applying a changed Job fails with "field is immutable"`);
      }
      const configMap = ownConfigMap(dist, job);
      const refs = configMap ? [ref, refOf(configMap)] : [ref];
      const actual = recomputedHash(job, configMap);
      const covers = configMap ? `its spec, labels and ConfigMap ${configMap.object.metadata.name} (${configMap.file}) data` : 'its spec and labels (no ConfigMap of its name)';
      return actual === named[2]
        ? pass(refs, `${at}: metadata.name carries the hash of ${covers}`)
        : fail(
            refs,
            `${at}: metadata.name carries hash ${named[2]}, but ${covers} hash to ${actual}: edited without renaming, so re-applying fails with "field is immutable" or the changed files never run`,
            `run npm run synth; to keep the hand edit, rename the Job, its ConfigMap and the files volume to ${named[1]}-${actual}`,
          );
    });
  },
};

// Waits a Job's script takes from its environment (WAIT_TIMEOUT_SECONDS and the like), in seconds.
const WAIT_ENV = /(TIMEOUT|WAIT)[A-Z_]*_SECONDS$/;

/** Jobs and the Job templates of CronJobs, with the path of the JobSpec in the object. */
function jobSpecs(dist: Dist): { item: DistObject; spec: Record<string, any>; path: string }[] {
  return [
    ...objectsOfKind(dist, 'Job').map((item) => ({ item, spec: item.object.spec ?? {}, path: 'spec' })),
    ...objectsOfKind(dist, 'CronJob').map((item) => ({ item, spec: item.object.spec?.jobTemplate?.spec ?? {}, path: 'spec.jobTemplate.spec' })),
  ];
}

/**
 * The waits a Job's containers take: env values named like WAIT_TIMEOUT_SECONDS, and where the env
 * does not set one, the default its script in the Job's own ConfigMap gives it (`${WAIT_TIMEOUT_SECONDS:-300}`).
 */
function visibleWaits(dist: Dist, item: DistObject, spec: Record<string, any>): { where: string; seconds: number }[] {
  const containers = [...(spec.template?.spec?.initContainers ?? []), ...(spec.template?.spec?.containers ?? [])] as Record<string, any>[];
  const scripts = Object.entries((ownConfigMap(dist, item)?.object.data ?? {}) as Record<string, unknown>).filter(([, text]) => typeof text === 'string') as [string, string][];
  return containers.flatMap((container) => {
    const env = ((container?.env ?? []) as { name?: string; value?: unknown }[]).filter((entry) => WAIT_ENV.test(entry?.name ?? '') && entry.value !== undefined);
    const set = new Set(env.map((entry) => entry.name));
    const defaults = scripts.flatMap(([key, text]) =>
      [...text.matchAll(/\$\{([A-Z_]+):-(\d+)\}/g)]
        .filter(([, name]) => WAIT_ENV.test(name) && !set.has(name))
        .map(([, name, seconds]) => ({ where: `container ${container.name}: ${key} defaults ${name} to ${seconds}`, seconds: Number(seconds) })),
    );
    return [...env.map((entry) => ({ where: `container ${container.name} env ${entry.name}=${entry.value}`, seconds: Number(entry.value) })), ...defaults];
  });
}

export const jobBounded: Check<StaticContext> = {
  id: 'job-bounded',
  description: `every Job ends: activeDeadlineSeconds set and longer than every wait its containers take from env, backoffLimit at most ${MAX_JOB_BACKOFF_LIMIT}`,
  component: 'platform',
  remediation: `set spec.activeDeadlineSeconds above the longest wait (e.g. WAIT_TIMEOUT_SECONDS) and spec.backoffLimit to at most ${MAX_JOB_BACKOFF_LIMIT}`,
  run: ({ dist }) => {
    const specs = jobSpecs(dist);
    if (specs.length === 0) return [skip('no Jobs or CronJobs in dist/')];
    return specs.map(({ item, spec, path }): CheckResult => {
      const ref = refOf(item);
      const at = `${formatRef(ref)} (${item.file})`;
      const problems: string[] = [];
      const deadline = spec.activeDeadlineSeconds;
      const bounded = Number.isInteger(deadline) && deadline > 0;
      if (!bounded) problems.push(`${path}.activeDeadlineSeconds is ${deadline ?? 'unset'}: a hung attempt runs forever (needs a positive number of seconds)`);
      const backoff = spec.backoffLimit;
      if (backoff === undefined) {
        problems.push(`${path}.backoffLimit is unset: the API's default 6 applies, a bound nobody chose (rule: state it, 0..${MAX_JOB_BACKOFF_LIMIT})`);
      } else if (!(Number.isInteger(backoff) && backoff >= 0 && backoff <= MAX_JOB_BACKOFF_LIMIT)) {
        problems.push(`${path}.backoffLimit is ${backoff}: a failing Job retries for hours (rule: 0..${MAX_JOB_BACKOFF_LIMIT})`);
      }
      for (const wait of bounded ? visibleWaits(dist, item, spec) : []) {
        if (!(wait.seconds < deadline)) problems.push(`${wait.where} is not below ${path}.activeDeadlineSeconds ${deadline}: the Job is killed before its wait ends`);
      }
      return problems.length > 0 ? fail([ref], `${at}: ${problems.join('; ')}`) : pass([ref], `${at}: deadline ${deadline} s, backoffLimit ${backoff}`);
    });
  },
};
