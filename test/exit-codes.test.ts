import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, EXIT, EXIT_CODES, exitCodeHelp, exitCodeMarkdownTable } from '../lib/exit-codes';
import { ROOT } from './support/synth';

// One exit-code table: the README shows what lib/exit-codes.ts defines, and every command's --help prints
// its own column of it (the commands return the same constants).
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const ENTRIES: Record<(typeof COMMANDS)[number], string> = {
  synth: 'build/main.js',
  verify: 'build/verify/main.js',
  deploy: 'build/scripts/deploy.js',
  secrets: 'build/scripts/secrets.js',
  diff: 'build/scripts/diff.js',
};

describe('exit codes', () => {

  it("the README's table is the one lib/exit-codes.ts defines", () => {
    const begin = README.indexOf('<!-- exit-codes:begin');
    const end = README.indexOf('<!-- exit-codes:end -->');
    expect(begin, 'README.md has the exit-codes markers').toBeGreaterThan(0);
    const shown = README.slice(README.indexOf('\n', begin) + 1, end).trim();
    expect(shown).toBe(exitCodeMarkdownTable());
  });

  it('every code has one meaning, and every command documents at least success and invalid input', () => {
    const codes = EXIT_CODES.map((entry) => entry.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect([...codes].sort()).toEqual(Object.values(EXIT).sort());
    for (const command of COMMANDS) {
      const documented = EXIT_CODES.filter((entry) => entry.when[command]).map((entry) => entry.code);
      expect(documented, command).toEqual(expect.arrayContaining([EXIT.ok, EXIT.usage]));
    }
  });

  it.each(COMMANDS)('%s --help prints its column of the table; a bad flag is exit 3 (invalid input)', (command) => {
    const help = spawnSync(process.execPath, [path.join(ROOT, ENTRIES[command]), '--help'], { cwd: ROOT, encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(EXIT.ok);
    expect(help.stdout).toContain(exitCodeHelp(command));
    const bogus = spawnSync(process.execPath, [path.join(ROOT, ENTRIES[command]), '--no-such-flag'], { cwd: ROOT, encoding: 'utf8' });
    expect(bogus.status, bogus.stderr).toBe(EXIT.usage);
    expect(bogus.stderr).toContain('--no-such-flag');
  });
});
