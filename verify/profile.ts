import { ENDPOINTS_DOCUMENT, endpointsProfile } from '../lib/platform/endpoints';
import { PROFILE_LABEL } from '../lib/platform/labels';
import type { Dist } from './dist';
import { type CheckResult, warn } from './model';
import { objectsOfKind } from './workloads';

/** The profile dist/ was synthesized with, and where it was read. */
export interface DistProfile {
  /** undefined when dist/ states none. */
  readonly name: string | undefined;
  readonly source: string;
}

/**
 * The profile of dist/: the PROFILE_LABEL of its Namespaces (the YAML being judged, and what is applied), else
 * the `# profile:` line of the endpoints document. Namespaces that disagree count as production when any says
 * so: the stricter rules apply.
 */
export function profileOf(dist: Dist): DistProfile {
  const labelled = [...new Set(objectsOfKind(dist, 'Namespace').flatMap((item) => item.object.metadata.labels?.[PROFILE_LABEL] ?? []))];
  if (labelled.length > 0) {
    return { name: labelled.includes('production') ? 'production' : labelled[0], source: `label ${PROFILE_LABEL} of the Namespaces (${labelled.join(', ')})` };
  }
  const stated = endpointsProfile(dist.documents[ENDPOINTS_DOCUMENT]);
  return { name: stated, source: stated ? `the '# profile:' line of ${ENDPOINTS_DOCUMENT}` : 'nowhere' };
}

/** A warning when dist/ states no profile (the production rules then go unjudged), else nothing. */
export function unknownProfile(profile: DistProfile): CheckResult[] {
  return profile.name === undefined
    ? [
        warn(
          [],
          `no profile in dist/ (no ${PROFILE_LABEL} label on the Namespaces, no '# profile:' line in ${ENDPOINTS_DOCUMENT}): production rules not applied`,
          `label the Namespaces ${PROFILE_LABEL}: <profile> (npm run synth does)`,
        ),
      ]
    : [];
}
