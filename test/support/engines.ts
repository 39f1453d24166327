/**
 * Whether a suite that needs a real engine can run, given why it cannot (`missing`, undefined when
 * nothing is missing). In CI (CI=true) a missing engine throws: a skipped suite would pass a build
 * that tested nothing. Locally the suite is skipped, saying why.
 */
export function requireEngine(suite: string, missing: string | undefined): boolean {
  if (missing === undefined) return true;
  if (process.env.CI === 'true') throw new Error(`${suite}: ${missing}; CI must provide it`);
  console.warn(`skipping ${suite}: ${missing}`);
  return false;
}
