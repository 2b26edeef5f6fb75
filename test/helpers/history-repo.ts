import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from './stdio-client.js';

export interface CommitSpec {
  subject: string;
  author?: { name: string; email: string };
  write?: Record<string, string>;
  remove?: string[];
}

const HUMAN = { name: 'Ada Tester', email: 'ada@example.com' };

/** A git repository in a temp dir whose history the test writes; git config comes only from here, never from the machine. */
export class HistoryRepo {
  readonly dir: string;
  private tick = 0;

  constructor() {
    this.dir = join(tempDir('history'), 'repo');
    mkdirSync(this.dir, { recursive: true });
    this.git('init', '-q', '-b', 'main');
  }

  /** Environment that isolates git from global and system config and pins identities and dates. */
  env(author = HUMAN): NodeJS.ProcessEnv {
    // Distinct, increasing dates keep `git log`'s newest-first order deterministic.
    const date = `${1_700_000_000 + this.tick * 60} +0000`;
    return {
      ...process.env,
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: HUMAN.name,
      GIT_COMMITTER_EMAIL: HUMAN.email,
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
    };
  }

  git(...args: string[]): string {
    return execFileSync('git', args, { cwd: this.dir, env: this.env(), encoding: 'utf8' }).trim();
  }

  commit(spec: CommitSpec): string {
    for (const [path, text] of Object.entries(spec.write ?? {})) {
      mkdirSync(dirname(join(this.dir, path)), { recursive: true });
      writeFileSync(join(this.dir, path), text);
    }
    for (const path of spec.remove ?? []) rmSync(join(this.dir, path));
    this.tick++;
    execFileSync('git', ['add', '-A'], { cwd: this.dir, env: this.env() });
    execFileSync('git', ['commit', '-q', '--allow-empty', '-m', spec.subject], { cwd: this.dir, env: this.env(spec.author ?? HUMAN) });
    return this.git('rev-parse', 'HEAD');
  }

  merge(branch: string, subject: string): string {
    this.tick++;
    execFileSync('git', ['merge', '-q', '--no-ff', branch, '-m', subject], { cwd: this.dir, env: this.env() });
    return this.git('rev-parse', 'HEAD');
  }
}

const code = (name: string, body: string) => `// ${name}\n${body}\n`;

/**
 * The scenario both eval suites use. Newest first, the commits mining must keep are:
 *   "Merge adjacent chunks into one result"           -> src/printer.ts
 *   "Add tokenizer for string literals"                -> src/lexer.ts  (the older commit of that subject is a duplicate)
 *   "feat(lexer): handle unicode identifiers"          -> src/lexer.ts  ("(#42)" dropped)
 *   "Add pretty printer for syntax trees"              -> src/printer.ts (made on a branch, then merged)
 *   "Remove the legacy cache module"                   -> src/parser.ts (the cache file is gone)
 *   "Add legacy cache for parsed modules"              -> src/parser.ts (the cache file is gone)
 *   "Initial parser, lexer and config loader"          -> src/config.ts, src/lexer.ts, src/parser.ts
 */
export function buildScenarioRepo(): HistoryRepo {
  const repo = new HistoryRepo();
  const bot = (name: string) => ({ name, email: `49699333+${name}@users.noreply.github.com` });
  repo.commit({
    subject: 'Initial parser, lexer and config loader',
    write: {
      'README.md': '# demo\n\nA tiny language.\n',
      'package.json': '{ "name": "demo", "version": "1.0.0" }\n',
      'src/parser.ts': code('parser', 'export function parseProgram(tokens: string[]) {\n  return tokens.map((t) => ({ node: t }));\n}'),
      'src/lexer.ts': code('lexer', 'export function tokenize(source: string) {\n  return source.split(/\\s+/);\n}'),
      'src/config.ts': code('config', 'export function loadConfig(path: string) {\n  return { path, strict: true };\n}'),
    },
  });
  repo.commit({
    subject: 'Add tokenizer for string literals',
    write: { 'src/lexer.ts': code('lexer', 'export function tokenize(source: string) {\n  return source.split(/\\s+/);\n}\nexport function readStringLiteral(s: string) {\n  return s.slice(1, -1);\n}') },
  });
  repo.commit({
    subject: 'Add legacy cache for parsed modules',
    write: {
      'src/legacy-cache.ts': code('cache', 'export const moduleCache = new Map<string, unknown>();'),
      'src/parser.ts': code('parser', 'import { moduleCache } from "./legacy-cache";\nexport function parseProgram(tokens: string[]) {\n  moduleCache.clear();\n  return tokens.map((t) => ({ node: t }));\n}'),
    },
  });
  repo.commit({
    subject: 'Support nested cache keys for modules',
    write: { 'src/legacy-cache.ts': code('cache', 'export const moduleCache = new Map<string, Map<string, unknown>>();') },
  });
  repo.commit({
    subject: 'Remove the legacy cache module',
    remove: ['src/legacy-cache.ts'],
    write: { 'src/parser.ts': code('parser', 'export function parseProgram(tokens: string[]) {\n  return tokens.map((t) => ({ node: t }));\n}') },
  });
  repo.commit({
    subject: 'Add plugin hooks across all modules',
    write: Object.fromEntries([1, 2, 3, 4, 5, 6, 7].map((i) => [`src/plugins/hook${i}.ts`, code(`hook ${i}`, `export const hook${i} = () => ${i};`)])),
  });
  repo.commit({ subject: 'Fix typo in parser error message', write: { 'src/parser.ts': code('parser', 'export function parseProgram(tokens: string[]) {\n  return tokens.map((t) => ({ node: t, kind: "expression" }));\n}') } });
  repo.commit({ subject: 'WIP start on the formatter output', write: { 'src/format.ts': code('format', 'export function formatNode(n: unknown) {\n  return String(n);\n}') } });
  repo.commit({ subject: 'Bump lodash from 4.17.20 to 4.17.21', author: bot('dependabot[bot]'), write: { 'package.json': '{ "name": "demo", "version": "1.0.0", "lodash": "4.17.21" }\n' } });
  repo.commit({ subject: 'Update dependency typescript to every new release', author: bot('renovate[bot]'), write: { 'src/config.ts': code('config', 'export function loadConfig(path: string) {\n  return { path, strict: true, target: "es2022" };\n}') } });
  repo.commit({ subject: 'Bump version to 1.2.3', write: { 'package.json': '{ "name": "demo", "version": "1.2.3" }\n', 'src/version.ts': 'export const VERSION = "1.2.3";\n' } });
  repo.commit({ subject: 'v1.2.3', write: { 'src/version.ts': 'export const VERSION = "1.2.4";\n' } });
  repo.commit({ subject: 'Release 1.3', write: { 'src/version.ts': 'export const VERSION = "1.3.0";\n' } });
  repo.git('checkout', '-q', '-b', 'feature');
  repo.commit({ subject: 'Add pretty printer for syntax trees', write: { 'src/printer.ts': code('printer', 'export function printTree(node: { node: string }) {\n  return `(${node.node})`;\n}') } });
  repo.git('checkout', '-q', 'main');
  repo.merge('feature', "Merge branch 'feature'");
  repo.commit({ subject: 'Merge pull request #7 from ada/printer', write: { 'src/printer.ts': code('printer', 'export function printTree(node: { node: string }) {\n  return `[${node.node}]`;\n}') } });
  repo.commit({ subject: 'Document the configuration options', write: { 'README.md': '# demo\n\nA tiny language.\n\n## Configuration\n\n`strict`: reject unknown tokens.\n' } });
  repo.commit({ subject: 'Update docs', write: { 'src/config.ts': code('config', '/** Loads the config file. */\nexport function loadConfig(path: string) {\n  return { path, strict: true, target: "es2022" };\n}') } });
  repo.commit({ subject: 'Revert "Fix typo in parser error message"', write: { 'src/parser.ts': code('parser', 'export function parseProgram(tokens: string[]) {\n  return tokens.map((t) => ({ node: t }));\n}') } });
  repo.commit({ subject: 'feat(lexer): handle unicode identifiers (#42)', write: { 'src/lexer.ts': code('lexer', 'export function tokenize(source: string) {\n  return source.normalize("NFC").split(/\\s+/u);\n}\nexport function readStringLiteral(s: string) {\n  return s.slice(1, -1);\n}') } });
  repo.commit({ subject: 'fix: parser crash', write: { 'src/parser.ts': code('parser', 'export function parseProgram(tokens: string[] = []) {\n  return tokens.map((t) => ({ node: t, kind: "expression" }));\n}') } });
  repo.commit({
    subject: 'Add tokenizer for string literals',
    write: { 'src/lexer.ts': code('lexer', 'export function tokenize(source: string) {\n  return source.normalize("NFC").split(/\\s+/u);\n}\nexport function readStringLiteral(s: string) {\n  return JSON.parse(s) as string;\n}') },
  });
  repo.commit({
    subject: 'Merge adjacent chunks into one result',
    write: { 'src/printer.ts': code('printer', 'export function printTree(node: { node: string }) {\n  return `(${node.node})`;\n}\nexport function mergeAdjacent(a: string, b: string) {\n  return a + b;\n}') },
  });
  return repo;
}
