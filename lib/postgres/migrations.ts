import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, type ConfigProblem } from '../config/load';
import { projectRoot } from '../platform/project-files';

/** Where the versioned migrations live, relative to the project root. */
export const MIGRATIONS_DIR = 'seed/migrations';

// `001_create_users.sql`: three digits (sorts as text, which is how the runner orders them), then a name.
const MIGRATION_FILE = /^(\d{3})_([a-z0-9]+(?:_[a-z0-9]+)*)\.sql$/;

// A top-level BEGIN; or COMMIT; would end the runner's transaction early (PL/pgSQL's BEGIN has no ';').
const TRANSACTION_CONTROL = /^\s*(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION)\s*;/im;

export interface Migration {
  /** Zero-padded, e.g. '001': the key in schema_migrations. */
  readonly version: string;
  readonly name: string;
  readonly fileName: string;
  readonly sql: string;
}

/**
 * Reads and checks the migrations: every file named NNN_name.sql, numbered 001, 002, ... without a gap
 * or duplicate, and not empty. A problem is a ConfigError naming the file, so synth stops before writing.
 */
export function loadMigrations(dir: string = path.join(projectRoot(), MIGRATIONS_DIR)): Migration[] {
  const source = path.relative(projectRoot(), dir) || dir;
  let entries: string[];
  try {
    entries = fs.readdirSync(dir).sort();
  } catch (error) {
    throw new ConfigError(source, [{ path: source, value: dir, rule: `cannot be read: ${(error as Error).message}` }]);
  }
  const problems: ConfigProblem[] = [];
  const migrations: Migration[] = [];
  for (const fileName of entries) {
    const file = `${source}/${fileName}`;
    const match = MIGRATION_FILE.exec(fileName);
    if (!match) {
      problems.push({ path: file, value: fileName, rule: 'must be named NNN_name.sql (three digits, then lower-case words joined by _)' });
      continue;
    }
    const expected = String(migrations.length + 1).padStart(3, '0');
    if (match[1] !== expected) {
      const previous = migrations.at(-1);
      problems.push({
        path: file,
        value: fileName,
        rule:
          previous?.version === match[1]
            ? `duplicates version ${match[1]} (${previous.fileName})`
            : `must be numbered ${expected}: migrations are numbered 001, 002, ... without gaps`,
      });
      continue;
    }
    const sql = fs.readFileSync(path.join(dir, fileName), 'utf8');
    if (sql.trim() === '') {
      problems.push({ path: file, value: fileName, rule: 'must not be empty' });
    } else if (TRANSACTION_CONTROL.test(sql)) {
      problems.push({
        path: file,
        value: TRANSACTION_CONTROL.exec(sql)![0].trim(),
        rule: 'must not begin or end transactions: migrate.sh runs each migration in a transaction of its own',
      });
    }
    migrations.push({ version: match[1], name: match[2], fileName, sql });
  }
  if (migrations.length === 0 && problems.length === 0) {
    problems.push({ path: source, value: entries, rule: 'must contain at least 001_<name>.sql' });
  }
  if (problems.length > 0) {
    throw new ConfigError(source, problems);
  }
  return migrations;
}
