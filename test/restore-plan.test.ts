import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseBackup, parseRestoreTarget, RestoreInputError, restorePlan, switchOverScript, targetSetting } from '../scripts/restore-plan';
import { findObject, ROOT, synthObjects } from './support/synth';

// The choices `npm run restore` makes before it creates anything (the same rules restore-data.sh applies
// on the volume, proven on PostgreSQL 16 in test/postgres-backup.test.ts).
const NOW = new Date('2026-12-01T12:00:00Z');
const BACKUPS = [
  { name: '20261129T020000Z', end: new Date('2026-11-29T02:01:00Z') },
  { name: '20261130T020000Z', end: new Date('2026-11-30T02:01:00Z') },
  { name: '20261201T020000Z', end: new Date('2026-12-01T02:01:00Z') },
];
const refused = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RestoreInputError);
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('restore plan', () => {
  it('picks the newest backup consistent before the target; latest picks the newest', () => {
    expect(chooseBackup(BACKUPS, new Date('2026-11-30T12:00:00Z'), undefined, NOW).name).toBe('20261130T020000Z');
    expect(chooseBackup(BACKUPS, 'latest', undefined, NOW).name).toBe('20261201T020000Z');
    expect(chooseBackup(BACKUPS, 'latest', '20261129T020000Z', NOW).name).toBe('20261129T020000Z');
  });

  it('refuses a target before the oldest backup, in the future, or not a time; an unknown or too new --from; no backups', () => {
    expect(refused(() => chooseBackup(BACKUPS, new Date('2026-11-29T02:00:30Z'), undefined, NOW))).toContain(
      "is before the oldest backup's end (20261129T020000Z, consistent at 2026-11-29T02:01:00.000Z)",
    );
    expect(refused(() => parseRestoreTarget('2026-12-01T12:00:01Z', NOW))).toContain('is in the future');
    expect(refused(() => parseRestoreTarget('2026-12-01 12:00', NOW))).toContain('RFC 3339');
    expect(refused(() => chooseBackup(BACKUPS, 'latest', '20250101T000000Z', NOW))).toContain('no such backup');
    expect(refused(() => chooseBackup(BACKUPS, new Date('2026-11-30T00:00:00Z'), '20261130T020000Z', NOW))).toContain('not before the target');
    expect(refused(() => chooseBackup([], 'latest', undefined, NOW))).toContain('no base backup');
  });

  it('targets reach PostgreSQL with a numeric offset, converted to UTC', () => {
    expect(targetSetting(parseRestoreTarget('2026-12-01T11:15:00.250+01:00', NOW))).toBe('2026-12-01 10:15:00.250+00:00');
  });

  it('refuses a live StatefulSet without a backup volume (backups off)', () => {
    const live = findObject(synthObjects(), 'StatefulSet', 'postgres');
    expect(refused(() => restorePlan({ live, target: 'latest', stamp: '20261201120000' }))).toContain('backups are off');
  });

  describe('switch-over lines', () => {
    const live = findObject(synthObjects({ override: { postgres: { backup: { enabled: true } } } }), 'StatefulSet', 'postgres');

    it("are the README's runbook, word for word (one source: what npm run restore prints)", () => {
      const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
      const indented = switchOverScript(live, 'postgres-restore-$STAMP')
        .split('\n')
        .map((line) => `   ${line}`)
        .join('\n');
      expect(readme).toContain(`   STAMP=20261201101500\n${indented}\n   \`\`\``);
    });

    it('run every kubectl in the context the restore was made in', () => {
      const lines = switchOverScript(live, 'postgres-restore-20261201120000', 'kubectl --context prod').split('\n');
      const kubectl = lines.filter((line) => !line.startsWith('#') && /\bkubectl\b/.test(line));
      expect(kubectl.length).toBeGreaterThan(10);
      expect(kubectl.filter((line) => (line.match(/kubectl --context prod /g) ?? []).length !== (line.match(/\bkubectl\b/g) ?? []).length)).toEqual([]);
    });

    it('refuse a StatefulSet with other than one claim template', () => {
      const twoClaims = structuredClone(live);
      twoClaims.spec.volumeClaimTemplates.push({ ...twoClaims.spec.volumeClaimTemplates[0], metadata: { name: 'wal' } });
      expect(refused(() => switchOverScript(twoClaims, 'postgres-restore-20261201120000'))).toContain('has 2 volume claim templates');
    });
  });
});
