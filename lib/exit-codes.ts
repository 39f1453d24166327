import { type Command, CommanderError } from 'commander';

/**
 * The exit codes of the project's commands: one definition, read by the commands themselves, their
 * --help texts and the README's table (test/exit-codes.test.ts pins that the README shows exactly this).
 * A number means the same in every command; a command that cannot end a way leaves that code out.
 */
export const EXIT = {
  ok: 0,
  findings: 1,
  couldNotCheck: 2,
  usage: 3,
  preflight: 4,
  apply: 5,
  wait: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const COMMANDS = ['synth', 'verify', 'deploy', 'secrets', 'diff'] as const;
export type CommandName = (typeof COMMANDS)[number];

export interface ExitCodeMeaning {
  readonly code: ExitCode;
  /** Two or three words, the same in every command's --help. */
  readonly label: string;
  /** What the number means, for every command that uses it. */
  readonly meaning: string;
  /** When each command ends with it; a command missing here never exits with this code. */
  readonly when: Readonly<Partial<Record<CommandName, string>>>;
}

export const EXIT_CODES: readonly ExitCodeMeaning[] = [
  {
    code: EXIT.ok,
    label: 'ok',
    meaning: 'done; nothing to report',
    when: {
      synth: 'dist/ written',
      verify: 'healthy (no check failed; warnings allowed)',
      deploy: 'deployed and verified healthy (or: deployed with --skip-verify; --dry-run and the preflight passed)',
      secrets: 'every Secret exists (created now or before); --rotate or --finish done',
      diff: 'no change',
    },
  },
  {
    code: EXIT.findings,
    label: 'findings',
    meaning: 'the command ran, and what it judged is not as it should be',
    when: {
      verify: 'at least one check failed',
      deploy: 'deployed, but the verifier reported findings',
      diff: 'changes (listed)',
    },
  },
  {
    code: EXIT.couldNotCheck,
    label: 'could not check',
    meaning: 'no verdict: something the command reads or reaches failed (or an unexpected error of a command that changes nothing)',
    when: {
      synth: 'the output could not be written, or synthesis failed unexpectedly (dist/ untouched)',
      verify: 'dist/ or the reference data unreadable, --live and no cluster, Kafka or PostgreSQL not answering',
      deploy: 'deployed, but the verifier could not check',
      secrets: 'the cluster did not answer, a namespace is missing or an existing Secret lacks a key (nothing created); --rotate/--finish: a Secret or login missing, or the copies disagree (nothing changed)',
      diff: 'the cluster does not answer, dist/ cannot be read, a read is refused',
    },
  },
  {
    code: EXIT.usage,
    label: 'invalid input',
    meaning: 'invalid arguments or configuration: nothing was done',
    when: {
      synth: 'invalid arguments or configuration (every problem listed as `path: rule (got value)`; dist/ untouched)',
      verify: 'invalid arguments',
      deploy: 'invalid arguments',
      secrets: 'invalid arguments or configuration (before any kubectl call)',
      diff: 'invalid arguments',
    },
  },
  {
    code: EXIT.preflight,
    label: 'preflight failed',
    meaning: 'the cluster is not ready for the change: nothing was applied',
    when: {
      deploy:
        'a preflight check failed, nothing was applied (also: a StatefulSet change that cannot be carried out safely, such as smaller or ' +
        'differently classed storage or another selector)',
      secrets: '--rotate: the previous rotation is not finished; --finish: the old login still has sessions (nothing changed)',
    },
  },
  {
    code: EXIT.apply,
    label: 'apply failed',
    meaning: 'a change to the cluster failed part-way (also: an unexpected error of a command that changes the cluster); re-running is safe',
    when: {
      deploy: 'applying a file, creating the Secrets, expanding a claim or re-creating a StatefulSet failed',
      secrets: 'creating or updating a Secret failed, or --rotate/--finish could not change the login (both logins work: no client is locked out)',
    },
  },
  {
    code: EXIT.wait,
    label: 'wait failed',
    meaning: 'what was applied did not become ready',
    when: {
      deploy: 'a StatefulSet did not roll out, or a Job failed or did not complete within --timeout',
    },
  },
];

/**
 * Parses the command line: undefined when the command should run, else the code to exit with (--help
 * ends with ok; whatever commander refuses, after its message, is invalid input).
 */
export function parseArguments(program: Command): ExitCode | undefined {
  try {
    program.exitOverride().parse();
    return undefined;
  } catch (error) {
    return error instanceof CommanderError && error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
}

/** The "Exit codes:" block of a command's --help. */
export function exitCodeHelp(command: CommandName): string {
  const lines = EXIT_CODES.filter((entry) => entry.when[command]).map((entry) => `  ${entry.code}  ${entry.label}: ${entry.when[command]}`);
  return `Exit codes:\n${lines.join('\n')}`;
}

/** The README's table: one row per code, one column per command. */
export function exitCodeMarkdownTable(): string {
  const cell = (text: string | undefined) => (text ?? '—').replace(/\|/g, '\\|');
  return [
    `| code | | meaning | ${COMMANDS.map((command) => `\`${command}\``).join(' | ')} |`,
    `|---|---|---|${COMMANDS.map(() => '---|').join('')}`,
    ...EXIT_CODES.map((entry) => `| ${entry.code} | ${entry.label} | ${cell(entry.meaning)} | ${COMMANDS.map((command) => cell(entry.when[command])).join(' | ')} |`),
  ].join('\n');
}
