import { afterEach, describe, expect, it, vi } from 'vitest';
import { requireEngine } from './support/engines';

// The guard every engine suite runs through: a missing engine must fail CI, never skip there.
describe('requireEngine', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('lets the suite run when nothing is missing, in CI or not', () => {
    vi.stubEnv('CI', 'true');
    expect(requireEngine('some suite', undefined)).toBe(true);
    vi.stubEnv('CI', '');
    expect(requireEngine('some suite', undefined)).toBe(true);
  });

  it('throws in CI (CI=true), naming the suite and the reason', () => {
    vi.stubEnv('CI', 'true');
    expect(() => requireEngine('Kafka suite', 'java not found')).toThrow('Kafka suite: java not found; CI must provide it');
  });

  it('locally skips the suite, printing why', () => {
    vi.stubEnv('CI', '');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(requireEngine('Kafka suite', 'java not found')).toBe(false);
    expect(warn).toHaveBeenCalledWith('skipping Kafka suite: java not found');
  });
});
