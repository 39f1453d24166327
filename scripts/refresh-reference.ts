import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { referenceDir } from '../lib/platform/project-files';
import { UPSTREAM_SOURCES, type UpstreamSource, type VendoredFile } from './reference-sources';

// Exit codes: 0 written; 2 bad arguments, or a checkout that cannot be used (nothing is written then).

const SOURCES_BEGIN = '<!-- sources: written by npm run refresh-reference -->';
const SOURCES_END = '<!-- end of sources -->';
const TABLE_HEADER = ['| file | upstream | version | license |', '|---|---|---|---|'];

const sourceOptions = UPSTREAM_SOURCES.map((source) => ({ source, option: new Option(`--${source.flag} <checkout>`, `a git checkout of ${source.repository}`) }));

const program = new Command('refresh-reference').description(
  'Regenerate reference/ from checkouts of the upstream repositories: copy the files, trim the Kubernetes ' +
    "definitions, record each checkout's tag or commit in reference/README.md. Sources not given keep their files.",
);
for (const { option } of sourceOptions) program.addOption(option);
program.option('--out <dir>', 'the reference directory to rewrite', referenceDir()).showHelpAfterError().exitOverride();

class RefreshError extends Error {}

interface Refreshed {
  readonly source: UpstreamSource;
  readonly version: string;
  /** Each vendored file with its new content, and the upstream size for the summary. */
  readonly files: readonly { readonly file: VendoredFile; readonly content: string; readonly upstreamBytes: number }[];
}

function git(dir: string, args: readonly string[]): string | undefined {
  const result = spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** The tag (or commit and date) a checkout is at; refuses anything whose provenance would be a guess. */
function checkoutVersion(source: UpstreamSource, dir: string): string {
  const top = git(dir, ['rev-parse', '--show-toplevel']);
  if (!top || fs.realpathSync(top) !== fs.realpathSync(dir)) {
    throw new RefreshError(`--${source.flag} ${dir} is not the root of a git checkout; clone it: git clone --depth 1 --branch <tag> https://github.com/${source.repository}`);
  }
  const changed = git(dir, ['status', '--porcelain', '--', ...source.files.map((file) => file.upstreamPath)]);
  if (changed) throw new RefreshError(`--${source.flag} ${dir} has local changes to the files vendored from it:\n${changed}`);
  const commit = git(dir, ['rev-parse', 'HEAD'])!;
  const tag = git(dir, ['describe', '--tags', '--exact-match', 'HEAD']);
  return tag ? `${tag} (commit ${commit})` : `commit ${commit} (${git(dir, ['log', '-1', '--format=%cs', 'HEAD'])})`;
}

function readSource(source: UpstreamSource, dir: string): Refreshed {
  const version = checkoutVersion(source, dir);
  const missing = source.files.filter((file) => !fs.existsSync(path.join(dir, file.upstreamPath)));
  if (missing.length > 0) throw new RefreshError(`--${source.flag} ${dir} has no ${missing.map((file) => file.upstreamPath).join(', ')}`);
  const files = source.files.map((file) => {
    const text = fs.readFileSync(path.join(dir, file.upstreamPath), 'utf8');
    try {
      return { file, content: file.transform ? file.transform(text) : text, upstreamBytes: Buffer.byteLength(text) };
    } catch (error) {
      throw new RefreshError(`${file.upstreamPath} of ${source.repository}: ${(error as Error).message}`);
    }
  });
  return { source, version, files };
}

function tableRow(source: UpstreamSource, file: VendoredFile, version: string): string {
  const upstream = `${source.repository} \`${file.upstreamPath}\`${file.transform ? ', trimmed' : ''}`;
  return `| \`${file.path}\` | ${upstream} | ${version} | ${source.license} |`;
}

/** The README with the rows of the refreshed files rewritten and the others kept. */
function updatedReadme(readme: string, refreshed: readonly Refreshed[]): string {
  const begin = readme.indexOf(SOURCES_BEGIN);
  const end = readme.indexOf(SOURCES_END);
  if (begin < 0 || end < begin) throw new RefreshError(`README.md lacks the lines ${SOURCES_BEGIN} and ${SOURCES_END}`);
  const existing = new Map(
    readme
      .slice(begin, end)
      .split('\n')
      .flatMap((line) => (/^\| `[^`]+` \|/.test(line) ? [[line.slice(3, line.indexOf('`', 3)), line] as const] : [])),
  );
  const rows = UPSTREAM_SOURCES.flatMap((source) =>
    source.files.map((file) => {
      const fresh = refreshed.find((item) => item.source === source);
      const row = fresh ? tableRow(source, file, fresh.version) : existing.get(file.path);
      if (!row) throw new RefreshError(`README.md has no row for ${file.path}: pass --${source.flag} too`);
      return row;
    }),
  );
  return `${readme.slice(0, begin)}${[SOURCES_BEGIN, ...TABLE_HEADER, ...rows].join('\n')}\n${readme.slice(end)}`;
}

function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((file) => fs.statSync(path.join(dir, file)).isFile()).sort();
}

function refresh(out: string, refreshed: readonly Refreshed[]): void {
  const readmeFile = path.join(out, 'README.md');
  if (!fs.existsSync(readmeFile)) throw new RefreshError(`${readmeFile} not found: --out names the reference directory`);
  const readme = updatedReadme(fs.readFileSync(readmeFile, 'utf8'), refreshed);

  for (const { source, version, files } of refreshed) {
    console.log(`${source.repository} ${version}`);
    for (const { file, content, upstreamBytes } of files) {
      fs.mkdirSync(path.dirname(path.join(out, file.path)), { recursive: true });
      fs.writeFileSync(path.join(out, file.path), content);
      const bytes = Buffer.byteLength(content);
      console.log(`  ${file.path}: ${bytes} bytes${bytes === upstreamBytes ? '' : ` (upstream ${upstreamBytes})`}`);
    }
  }
  // The folder holds what UPSTREAM_SOURCES lists and nothing else: a file dropped there is removed here.
  const listed = new Set(['README.md', ...UPSTREAM_SOURCES.flatMap((source) => source.files.map((file) => path.normalize(file.path)))]);
  for (const file of filesUnder(out).filter((file) => !listed.has(file))) {
    fs.rmSync(path.join(out, file));
    console.log(`  removed ${file}`);
  }
  for (const dir of fs.readdirSync(out).filter((name) => fs.statSync(path.join(out, name)).isDirectory())) {
    if (fs.readdirSync(path.join(out, dir)).length === 0) fs.rmdirSync(path.join(out, dir));
  }
  fs.writeFileSync(readmeFile, readme);
  console.log(`review the change: git diff -- ${path.relative(process.cwd(), out) || '.'}`);
}

function main(): number {
  try {
    program.parse();
  } catch (error) {
    return error instanceof CommanderError && error.exitCode === 0 ? 0 : 2;
  }
  const given = sourceOptions.flatMap(({ source, option }) => {
    const dir = program.getOptionValue(option.attributeName()) as string | undefined;
    return dir === undefined ? [] : [{ source, dir: path.resolve(dir) }];
  });
  if (given.length === 0) {
    console.error(`error: name at least one checkout: ${sourceOptions.map(({ option }) => option.flags).join(', ')}`);
    return 2;
  }
  try {
    // Everything is read (and trimmed) before anything is written.
    const refreshed = given.map(({ source, dir }) => readSource(source, dir));
    refresh(path.resolve(program.opts<{ out: string }>().out), refreshed);
    return 0;
  } catch (error) {
    if (!(error instanceof RefreshError)) throw error;
    console.error(`error: ${error.message}`);
    return 2;
  }
}

process.exitCode = main();
