import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../lib/config/load';
import { EXIT } from '../../lib/exit-codes';
import { readTree, runSynthCli, tempDir } from './synth';

/** A configuration synth must refuse: where, and by which rule. */
export interface BadConfigInput {
  readonly case: string;
  readonly profile: 'minikube' | 'production';
  readonly override: Record<string, unknown>;
  /** The field path the error line starts with. */
  readonly path: string;
  /** Text of that line: the value as the message shows it. @default - not checked apart from the rule */
  readonly value?: string;
  /** Text of that line: the rule (and the value). */
  readonly rule: string;
}

/** Each case: loadConfig throws, and `npm run synth` exits 3 naming the path and rule, leaving dist/ untouched. */
export function describeBadConfig(title: string, cases: readonly BadConfigInput[]): void {
  describe(title, () => {
    let work: string;
    let outDir: string;
    let before: Record<string, string>;

    beforeAll(() => {
      work = tempDir('bad-config');
      outDir = path.join(work, 'dist');
      expect(runSynthCli(['--out', outDir, '--quiet']).status).toBe(0);
      before = readTree(outDir);
    });

    it.each(cases)('$case: names $path, exits 3 (usage), leaves dist/ untouched', (badInput) => {
      expect(() => loadConfig({ profile: badInput.profile, override: badInput.override })).toThrow(ConfigError);
      const file = path.join(work, `bad-${cases.indexOf(badInput)}.yaml`);
      fs.writeFileSync(file, yaml.dump(badInput.override));
      const result = runSynthCli(['--profile', badInput.profile, '--config', file, '--out', outDir]);
      expect(result.status, result.stderr).toBe(EXIT.usage);
      const line = result.stderr.split('\n').find((l) => l.trim().startsWith(`${badInput.path}:`));
      expect(line, result.stderr).toBeDefined();
      if (badInput.value !== undefined) expect(line).toContain(badInput.value);
      expect(line).toContain(badInput.rule);
      expect(readTree(outDir)).toEqual(before);
    });
  });
}
