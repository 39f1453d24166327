import { prepareEngines } from './prepare-engines';

/** vitest globalSetup: runs in the main process before any test worker starts. */
export default async function setup(): Promise<void> {
  await prepareEngines();
}
