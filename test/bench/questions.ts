/**
 * `npm run bench:questions -- --repos <dir> [--only flask,cobra] [--modes grep,lexical,semantic,hybrid]
 *   [--home <dir>] [--provider onnx --model <dir> ...] [--details] [--json]`
 *
 * The developer-question benchmark (docs/quality.md, "Developer questions"): questions in plain words
 * about public repositories (test/bench/questions/<repository>.json: questions and the definitions that
 * answer them, no third-party code), asked of codecarto's search in each mode and of an idf-ranked grep
 * baseline. `--repos` holds one checkout per data file, named after its `repository` and at its `commit`.
 * Scoring is in question-scoring.ts. Progress goes to stderr; the table (or one JSON line) to stdout.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GrepBaseline, grepQueryWords } from '../../indexer/eval/grep-baseline.js';
import { languageForPath } from '../../indexer/chunk/languages.js';
import { canSearchSemantically, type SearchMode } from '../../indexer/search/search.js';
import type { Workspace } from '../../indexer/workspace/workspace.js';
import { loadMistralTokenizer } from '../../models/hf-tokenizer.js';
import { readConfig } from '../../src/config.js';
import { openWorkspace } from '../../src/open-workspace.js';
import { PROVIDER_OPTIONS, settingsFromFlags } from '../../src/provider-options.js';
import { searchAnswer } from '../../tools/search-answer.js';
import { enclosingDefinition, fileDefinitions, type Definition } from './definitions.js';
import {
  bestGrepLine,
  countTokensInPieces,
  grepOutput,
  scoreHits,
  sharedWords,
  summarize,
  TOP,
  type ModeSummary,
  type QuestionFile,
  type QuestionOutcome,
  type RankedHit,
} from './question-scoring.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DATA_DIR = join(repoRoot, 'test', 'bench', 'questions');

const MODES = ['grep', 'lexical', 'semantic', 'hybrid'] as const;
type Mode = (typeof MODES)[number];

/** Matching lines printed per file for grep's answer size (`rg -m 30`), over its top 3 files. */
const GREP_LINES_PER_FILE = 30;

/** The targets of issue 18 for lexical search (the ranking work aims at them). */
const TARGETS = { function_at_3: 0.6, file_at_3: 0.8 };

interface RepoReport {
  repository: string;
  language: string;
  commit: string;
  files_indexed: number;
  chunks: number;
  index_seconds: number;
  questions: number;
  questions_sharing_no_word: number;
  modes: Partial<Record<Mode, ModeSummary>>;
  unavailable: Partial<Record<Mode, string>>;
}

interface QuestionDetail {
  id: string;
  question: string;
  shares_word: boolean;
  modes: Partial<Record<Mode, { function_rank: number | null; function_at_3: boolean; function_overlap_at_3: boolean; file_at_3: boolean; top3: string[] }>>;
}

interface Report {
  k: number;
  top: number;
  repositories: RepoReport[];
  overall: Partial<Record<Mode, ModeSummary>>;
  questions: number;
  questions_sharing_no_word: number;
  languages: string[];
  targets: { lexical_function_at_3: boolean; lexical_file_at_3: boolean; lexical_above_grep_every_repository: boolean } | null;
  details: QuestionDetail[];
}

const tokenizer = loadMistralTokenizer();

/** Mistral tokens of `text` (countTokensInPieces). */
const countTokens = (text: string): number => countTokensInPieces((piece) => tokenizer.count(piece), text);

function loadQuestionFiles(only: string[] | undefined): QuestionFile[] {
  const files = readdirSync(DATA_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(DATA_DIR, f), 'utf8')) as QuestionFile);
  if (!only) return files;
  const unknown = only.filter((name) => !files.some((f) => f.repository === name));
  if (unknown.length) throw new Error(`--only: no data file for ${unknown.join(', ')} (have ${files.map((f) => f.repository).join(', ')}).`);
  return files.filter((f) => only.includes(f.repository));
}

/** The checkout must be at the data's commit and every answer must name a real definition there. */
async function checkCheckout(data: QuestionFile, root: string): Promise<void> {
  const head = spawnSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) throw new Error(`${root} is not a git checkout (${head.stderr.trim()}); clone ${data.url} there.`);
  if (head.stdout.trim() !== data.commit) {
    throw new Error(`${root} is at ${head.stdout.trim()}, the questions were written against ${data.commit}: run \`git -C ${root} checkout ${data.commit}\`.`);
  }
  const problems: string[] = [];
  const cache = new Map<string, Definition[]>();
  for (const q of data.questions) {
    for (const a of q.answers) {
      if (!cache.has(a.path)) cache.set(a.path, await fileDefinitions(readFileSync(join(root, a.path), 'utf8'), languageForPath(a.path) ?? ''));
      const found = cache.get(a.path)!.some((d) => d.symbol === a.symbol && d.line === a.start_line && d.end === a.end_line);
      if (!found) problems.push(`${q.id}: no definition ${a.symbol} at ${a.path}:${a.start_line}-${a.end_line}`);
    }
  }
  if (problems.length) throw new Error(`The question data does not match the code of ${root}:\n  ${problems.join('\n  ')}`);
}

/** A ranked answer list and the tokens of what the agent receives, for one question in one mode. */
interface Answered {
  hits: RankedHit[];
  tokensText: number;
  tokensJson: number | null;
}

function searchAnswerer(workspace: Workspace, mode: SearchMode, k: number) {
  return async (question: string): Promise<Answered> => {
    // What the search tool answers by default (detail "lines", max_tokens for k): its text block and structuredContent.
    const { stale_complete: _complete, ...response } = await workspace.search({ query: question, k, mode });
    if (response.mode !== mode) throw new Error(`search answered in mode ${response.mode}, not ${mode}: ${response.note ?? ''}`);
    const answer = searchAnswer(question, response, { k });
    return { hits: response.results, tokensText: countTokens(answer.text), tokensJson: countTokens(JSON.stringify(answer.structured)) };
  };
}

/**
 * grep's answer list: its files ranked by idf (indexer/eval/grep-baseline.ts), each standing for the
 * definition that encloses its best-matching line (bestGrepLine); that hit covers an answer when it is
 * the answer's own definition. Its size: what `rg -n -i -F -m 30` prints for the top 3 files.
 */
async function grepAnswerer(root: string, paths: string[], k: number) {
  const files = new Map<string, string>();
  for (const path of paths) {
    try {
      files.set(path, readFileSync(join(root, path), 'utf8'));
    } catch {
      // Deleted since it was indexed: grep would not see it either.
    }
  }
  const baseline = new GrepBaseline([...files].map(([path, text]) => ({ path, text })));
  const definitions = new Map<string, Definition[]>();
  return async (question: string): Promise<Answered> => {
    const words = grepQueryWords(question);
    const idf = new Map(words.map((w) => [w, Math.log(baseline.fileCount / Math.max(1, baseline.counts(w).size))] as const));
    const ranked = baseline.rank(question, k);
    const hits: RankedHit[] = [];
    for (const { path } of ranked) {
      const text = files.get(path)!;
      const line = bestGrepLine(text, idf) ?? 1;
      if (!definitions.has(path)) definitions.set(path, await fileDefinitions(text, languageForPath(path) ?? ''));
      const def = enclosingDefinition(definitions.get(path)!, line);
      hits.push(def ? { path, start_line: def.line, end_line: def.line } : { path, start_line: line, end_line: line });
    }
    const printed = grepOutput(ranked.slice(0, TOP).map(({ path }) => ({ path, text: files.get(path)! })), words, GREP_LINES_PER_FILE);
    return { hits, tokensText: countTokens(printed.join('\n')), tokensJson: null };
  };
}

async function measureRepository(workspace: Workspace, data: QuestionFile, root: string, modes: readonly Mode[], k: number, details: QuestionDetail[]): Promise<RepoReport> {
  await checkCheckout(data, root);
  const log = (m: string) => process.stderr.write(`${data.repository}: ${m}\n`);
  const started = performance.now();
  const job = await workspace.startIndex({ path: root });
  const summary = await job.done;
  if (summary.state !== 'done') throw new Error(`indexing ${root} ${summary.state}${summary.error ? `: ${summary.error}` : ''}`);
  const indexSeconds = (performance.now() - started) / 1000;
  const project = await workspace.current();
  const paths = [...project.store.listFiles().keys()].sort();
  log(`indexed ${paths.length} files, ${summary.chunks_total} chunks in ${indexSeconds.toFixed(1)} s`);

  const semanticReady = canSearchSemantically(project.store, project.embedder);
  const byId = new Map<string, QuestionDetail>();
  for (const q of data.questions) {
    const detail: QuestionDetail = { id: q.id, question: q.question, shares_word: sharedWords(q).length > 0, modes: {} };
    byId.set(q.id, detail);
    details.push(detail);
  }
  const report: RepoReport = {
    repository: data.repository,
    language: data.language,
    commit: data.commit,
    files_indexed: paths.length,
    chunks: summary.chunks_total,
    index_seconds: Math.round(indexSeconds * 10) / 10,
    questions: data.questions.length,
    questions_sharing_no_word: [...byId.values()].filter((d) => !d.shares_word).length,
    modes: {},
    unavailable: {},
  };
  for (const mode of modes) {
    if ((mode === 'semantic' || mode === 'hybrid') && !semanticReady) {
      report.unavailable[mode] = `no vectors of this provider's model (provider ${project.embedder.provider}); pass --provider onnx --model <dir> (or dgx, openai)`;
      continue;
    }
    const answer = mode === 'grep' ? await grepAnswerer(root, paths, k) : searchAnswerer(workspace, mode, k);
    const outcomes: QuestionOutcome[] = [];
    for (const q of data.questions) {
      const answered = await answer(q.question);
      const score = scoreHits(answered.hits, q.answers);
      const detail = byId.get(q.id)!;
      outcomes.push({ ...score, shares_word: detail.shares_word, tokens_text: answered.tokensText, tokens_json: answered.tokensJson });
      detail.modes[mode] = {
        function_rank: score.function_rank,
        function_at_3: score.function_at_3,
        function_overlap_at_3: score.function_overlap_at_3,
        file_at_3: score.file_at_3,
        top3: answered.hits.slice(0, TOP).map((h) => `${h.path}:${h.start_line}-${h.end_line}`),
      };
    }
    report.modes[mode] = summarize(outcomes);
    log(`${mode}: function@3 ${report.modes[mode]!.function_at_3}, file@3 ${report.modes[mode]!.file_at_3}`);
  }
  return report;
}

function overall(details: readonly QuestionDetail[], repos: readonly RepoReport[], modes: readonly Mode[]): Partial<Record<Mode, ModeSummary>> {
  const out: Partial<Record<Mode, ModeSummary>> = {};
  for (const mode of modes) {
    if (!repos.every((r) => r.modes[mode])) continue;
    // Micro-average: every question counts once; token means weighted by question counts.
    const outcomes: QuestionOutcome[] = details.map((d) => {
      const m = d.modes[mode]!;
      return { function_at_3: m.function_at_3, function_overlap_at_3: m.function_overlap_at_3, file_at_3: m.file_at_3, function_rank: m.function_rank, shares_word: d.shares_word, tokens_text: 0, tokens_json: null };
    });
    const summary = summarize(outcomes);
    const n = repos.reduce((s, r) => s + r.questions, 0);
    const mean = (pick: (s: ModeSummary) => number | null) => Math.round(repos.reduce((s, r) => s + (pick(r.modes[mode]!) ?? 0) * r.questions, 0) / n);
    summary.answer_tokens_text = mean((s) => s.answer_tokens_text);
    summary.answer_tokens_json = mode === 'grep' ? null : mean((s) => s.answer_tokens_json);
    summary.answer_tokens_json_max = mode === 'grep' ? null : Math.max(...repos.map((r) => r.modes[mode]!.answer_tokens_json_max ?? 0));
    out[mode] = summary;
  }
  return out;
}

function formatReport(report: Report): string {
  const header = ['repository', 'language', 'questions', 'mode', 'function@3', 'file@3', 'fn@3 no shared word', 'fn overlap@3', 'MRR', 'tokens text', 'tokens JSON (max)'];
  const row = (repo: string, language: string, questions: string, mode: string, s: ModeSummary) => [
    repo,
    language,
    questions,
    mode,
    s.function_at_3.toFixed(3),
    s.file_at_3.toFixed(3),
    s.function_at_3_no_shared_word === null ? '-' : s.function_at_3_no_shared_word.toFixed(3),
    s.function_overlap_at_3.toFixed(3),
    s.function_mrr.toFixed(3),
    String(s.answer_tokens_text),
    s.answer_tokens_json === null ? '-' : `${s.answer_tokens_json} (${s.answer_tokens_json_max})`,
  ];
  const rows: string[][] = [];
  for (const r of report.repositories) {
    for (const mode of MODES) if (r.modes[mode]) rows.push(row(r.repository, r.language, `${r.questions} (${r.questions_sharing_no_word})`, mode, r.modes[mode]!));
  }
  for (const mode of MODES) {
    if (report.overall[mode]) rows.push(row('overall', `${report.languages.length} languages`, `${report.questions} (${report.questions_sharing_no_word})`, mode, report.overall[mode]!));
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 4 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const lines = [
    `Developer questions: ${report.questions} questions (${report.questions_sharing_no_word} share no word with their answers' names) ` +
      `on ${report.repositories.length} repositories; k = ${report.k}, the top ${report.top} judged.`,
    '',
    line(header),
    ...rows.map(line),
  ];
  // One line per mode and reason, naming the repositories it applies to.
  const unavailable = new Map<string, string[]>();
  for (const r of report.repositories) {
    for (const [mode, reason] of Object.entries(r.unavailable)) {
      const key = `${mode}: not measured: ${reason}`;
      unavailable.set(key, [...(unavailable.get(key) ?? []), r.repository]);
    }
  }
  for (const [key, repos] of unavailable) lines.push(`${key} (${repos.join(', ')}).`);
  if (report.targets) {
    const t = report.targets;
    const mark = (ok: boolean) => (ok ? 'met' : 'not met');
    lines.push(
      '',
      `Targets (lexical): function@3 >= ${TARGETS.function_at_3} ${mark(t.lexical_function_at_3)}; file@3 >= ${TARGETS.file_at_3} ${mark(t.lexical_file_at_3)}; ` +
        `above grep on every repository (function@3 higher, file@3 not lower) ${mark(t.lexical_above_grep_every_repository)}.`,
    );
  }
  return lines.join('\n');
}

function formatDetails(details: readonly QuestionDetail[], modes: readonly Mode[]): string {
  const lines: string[] = [];
  for (const d of details) {
    const ranks = modes.flatMap((m) => (d.modes[m] ? [`${m} ${d.modes[m]!.function_rank ?? '-'}${d.modes[m]!.file_at_3 ? '' : ' (file missed)'}`] : []));
    lines.push(`${d.id}${d.shares_word ? '' : ' [no shared word]'}: ${d.question}\n    first covering rank: ${ranks.join(', ')}`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      ...PROVIDER_OPTIONS,
      repos: { type: 'string' },
      only: { type: 'string' },
      modes: { type: 'string' },
      home: { type: 'string' },
      k: { type: 'string' },
      details: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  if (!values.repos) {
    throw new Error('--repos <dir> is required: a directory with one checkout per file in test/bench/questions/, named after its "repository" and at its "commit".');
  }
  const settings = settingsFromFlags(values);
  // Without an embedding provider only grep and lexical can run; ask for the others by naming a provider.
  const defaultModes: Mode[] = (settings.provider ?? 'none') === 'none' ? ['grep', 'lexical'] : [...MODES];
  const modes = values.modes ? (values.modes.split(',').map((m) => m.trim()) as Mode[]) : defaultModes;
  const unknownModes = modes.filter((m) => !MODES.includes(m));
  if (unknownModes.length) throw new Error(`--modes takes ${MODES.join(', ')} (not ${unknownModes.join(', ')}).`);
  const k = values.k === undefined ? 10 : Number(values.k);
  if (!Number.isInteger(k) || k < TOP || k > 100) throw new Error(`--k must be a whole number from ${TOP} to 100.`);
  const files = loadQuestionFiles(values.only?.split(',').map((s) => s.trim()));

  // Indexes live in their own home (a temp one unless --home keeps them for the next run), never the user's.
  const home = values.home ? resolve(values.home) : mkdtempSync(join(tmpdir(), 'codecarto-questions-'));
  const config = readConfig({ ...process.env, CODECARTO_HOME: home }, { watch: 'off' });
  const workspace = openWorkspace(config, { rememberCurrent: false, restoreCurrent: false, log: () => {} });
  const details: QuestionDetail[] = [];
  const repositories: RepoReport[] = [];
  try {
    for (const data of files) {
      const root = resolve(values.repos, data.repository);
      await workspace.setProject(root, { provider: 'none', ...settings }, { watch: false });
      repositories.push(await measureRepository(workspace, data, root, modes, k, details));
    }
  } finally {
    await workspace.close();
    if (!values.home) rmSync(home, { recursive: true, force: true });
  }
  const all = overall(details, repositories, modes);
  const lexicalRepos = repositories.every((r) => r.modes.lexical && r.modes.grep);
  const report: Report = {
    k,
    top: TOP,
    repositories,
    overall: all,
    questions: details.length,
    questions_sharing_no_word: details.filter((d) => !d.shares_word).length,
    languages: [...new Set(files.map((f) => f.language))],
    targets:
      all.lexical && lexicalRepos
        ? {
            lexical_function_at_3: all.lexical.function_at_3 >= TARGETS.function_at_3,
            lexical_file_at_3: all.lexical.file_at_3 >= TARGETS.file_at_3,
            lexical_above_grep_every_repository: repositories.every(
              // file@3 may already be 1 for grep: "above" asks more function@3 and no less file@3.
              (r) => r.modes.lexical!.function_at_3 > r.modes.grep!.function_at_3 && r.modes.lexical!.file_at_3 >= r.modes.grep!.file_at_3,
            ),
          }
        : null,
    details,
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    process.stdout.write(`${formatReport(report)}\n`);
    if (values.details) process.stdout.write(`\n${formatDetails(details, modes)}\n`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:questions: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
