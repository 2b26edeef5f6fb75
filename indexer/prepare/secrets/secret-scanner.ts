/**
 * Finds secrets in a file's text before any of it is stored or embedded. The rules are gitleaks'
 * default set (gitleaks-rules.ts, ported as data) plus codecarto's (codecarto-rules.ts), applied as
 * gitleaks applies them: a keyword prefilter on the lower-cased text, the rule's regex, its secret
 * group, an entropy floor, then the global and per-rule allowlists. Synchronous and pure, so it runs on
 * the file-preparation worker threads; the prefilter keeps it cheap where no keyword occurs.
 */
import { CODECARTO_RULES, CODECARTO_RULES_REVISION, GITLEAKS_ALLOWLIST_CORRECTIONS, GITLEAKS_FILE_SCOPED } from './codecarto-rules.js';
import { GITLEAKS_COMMIT, GITLEAKS_GLOBAL_ALLOWLIST, GITLEAKS_RULES } from './gitleaks-rules.js';
import { KeywordAutomaton } from './keyword-automaton.js';
import { re2ToRegExp } from './re2-to-js.js';
import type { CodecartoSecretRule, SecretRuleAllowlist } from './secret-rule-types.js';

/** Recorded with an index: a different value means files were scanned with other rules and are scanned again. */
export const SECRET_RULES_VERSION = `gitleaks-${GITLEAKS_COMMIT.slice(0, 12)}+codecarto-${CODECARTO_RULES_REVISION}`;

export interface SecretFinding {
  ruleId: string;
  /**
   * 'file': the whole file must be left out (key material, a credential file format, a secret over
   * several lines); 'chunk': only the chunks holding the secret.
   */
  scope: 'file' | 'chunk';
  /** 1-based lines of the secret itself. */
  startLine: number;
  endLine: number;
  /** The secret text; callers must never log or store it. */
  secret: string;
}

interface CompiledAllowlist {
  and: boolean;
  target: 'secret' | 'match' | 'line';
  regexes: RegExp[];
  paths: RegExp[];
  stopwords: string[];
}

interface CompiledRule {
  id: string;
  scope: 'file' | 'chunk';
  regex?: RegExp;
  path?: RegExp;
  secretGroup: number;
  entropy: number;
  /** Indexes into the automaton's keyword list. */
  keywords: number[];
  requires: number[];
  nearKeywords: boolean;
  allowlists: CompiledAllowlist[];
  validate?: (secret: string) => boolean;
}

/**
 * gitleaks' "name = value" rules start with a lazy [\w.-]{0,50}? before the name, which V8 tries at
 * every offset of the text: most of the scan's cost. That prefix cannot cross a line, so the name (a
 * keyword) is on the match's first line, and these rules need to run only near keyword lines.
 */
const GENERIC_PREFIX = /^(?:\(\?i\))?\[\\w\.-\]\{0,50\}\?/;
/** Lines after a keyword's line that a match may still reach (the separators take up to 8 whitespace characters). */
const LINES_AFTER_KEYWORD = 3;

interface Compiled {
  rules: CompiledRule[];
  global: CompiledAllowlist;
  keywords: KeywordAutomaton;
}

let compiled: Compiled | undefined;

/** Compiles every rule once per thread (~20 ms), on first use. */
function rules(): Compiled {
  if (compiled) return compiled;
  const all: CodecartoSecretRule[] = [
    ...GITLEAKS_RULES.map((r) => ({ ...r, scope: GITLEAKS_FILE_SCOPED.has(r.id) ? ('file' as const) : ('chunk' as const) })),
    ...CODECARTO_RULES,
  ];
  const words = new Map<string, number>();
  const word = (w: string) => {
    const key = w.toLowerCase();
    if (!words.has(key)) words.set(key, words.size);
    return words.get(key)!;
  };
  const tracked = new Set<number>();
  const list = all.map((r) => ({
    keywords: (r.keywords ?? []).map(word),
    requires: (r.requires ?? []).map(word),
    nearKeywords: (r.nearKeywords ?? GENERIC_PREFIX.test(r.regex ?? '')) && (r.keywords ?? []).length > 0,
  }));
  for (const r of list) if (r.nearKeywords) r.keywords.forEach((k) => tracked.add(k));
  compiled = {
    keywords: new KeywordAutomaton([...words.keys()], tracked),
    rules: all.map((r, i) => ({
      ...list[i],
      id: r.id,
      scope: r.scope ?? 'chunk',
      // 'd' gives the secret group's offsets, so a secret's own lines are known, not only the match's.
      regex: r.regex === undefined ? undefined : re2ToRegExp(r.regex, 'gd'),
      path: r.path === undefined ? undefined : re2ToRegExp(r.path),
      secretGroup: r.secretGroup ?? 0,
      entropy: r.entropy ?? 0,
      allowlists: (r.allowlists ?? []).map(compileAllowlist),
      validate: r.validate,
    })),
    global: compileAllowlist({
      ...GITLEAKS_GLOBAL_ALLOWLIST,
      regexes: GITLEAKS_GLOBAL_ALLOWLIST.regexes?.map((r) => GITLEAKS_ALLOWLIST_CORRECTIONS.get(r) ?? r),
    }),
  };
  return compiled;
}

function compileAllowlist(a: SecretRuleAllowlist): CompiledAllowlist {
  return {
    and: a.condition === 'AND',
    target: a.regexTarget ?? 'secret',
    regexes: (a.regexes ?? []).map((r) => re2ToRegExp(r)),
    paths: (a.paths ?? []).map((r) => re2ToRegExp(r)),
    stopwords: (a.stopwords ?? []).map((w) => w.toLowerCase()),
  };
}

/** Every secret in `text`; `path` (repository-relative) selects path-bound rules. Never throws on content. */
export function scanForSecrets(text: string, path: string): SecretFinding[] {
  const { rules: all, global, keywords } = rules();
  const hits = keywords.scan(text);
  const has = (word: number) => hits.present[word] === 1;
  const lines = new LineIndex(text);
  const findings: SecretFinding[] = [];
  for (const rule of all) {
    if (rule.path && !rule.path.test(path)) continue;
    if (rule.allowlists.some((a) => !a.and && a.paths.some((p) => p.test(path)))) continue;
    if (!rule.regex) {
      // A path-only rule (e.g. a PKCS#12 bundle): the name is the finding.
      if (rule.path) findings.push({ ruleId: rule.id, scope: 'file', startLine: 1, endLine: 1, secret: '' });
      continue;
    }
    if (rule.keywords.length > 0 && !rule.keywords.some(has)) continue;
    if (!rule.requires.every(has)) continue;
    const re = rule.regex;
    const windows = rule.nearKeywords ? keywordWindows(rule.keywords.map((k) => hits.lines.get(k) ?? []), lines) : [[0, text.length] as const];
    for (const [from, to] of windows) {
      const part = from === 0 && to === text.length ? text : text.slice(from, to);
      re.lastIndex = 0;
      for (let m = re.exec(part); m !== null; m = re.exec(part)) {
        if (m[0].length === 0) {
          re.lastIndex++;
          continue;
        }
        const finding = check(rule, m, from);
        if (finding) findings.push(finding);
      }
    }
  }
  return findings;

  /** The finding for one regex match at `base` + its offset, or null when filtered out. */
  function check(rule: CompiledRule, m: RegExpExecArray, base: number): SecretFinding | null {
    const [secret, offset] = secretOf(m, rule.secretGroup);
    const start = base + offset;
    if (secret.length === 0) return null;
    if (rule.entropy > 0 && shannonEntropy(secret) <= rule.entropy) return null;
    if (rule.validate && !rule.validate(secret)) return null;
    const match = m[0];
    const line = () => lines.text(base + m.index, base + m.index + match.length);
    if (allowed(global, secret, match, line, path) || rule.allowlists.some((a) => allowed(a, secret, match, line, path))) return null;
    const startLine = lines.lineOf(start);
    const endLine = lines.lineOf(start + secret.length - 1);
    return { ruleId: rule.id, scope: rule.scope === 'file' || endLine > startLine ? 'file' : 'chunk', startLine, endLine, secret };
  }
}

/** Merged [from, to) offsets covering each line holding a keyword and the few lines after it. */
function keywordWindows(keywordLines: readonly number[][], lines: LineIndex): (readonly [number, number])[] {
  const hitLines = keywordLines.length === 1 ? keywordLines[0] : [...new Set(keywordLines.flat())].sort((a, b) => a - b);
  const windows: [number, number][] = [];
  for (const line of hitLines) {
    const from = lines.startOf(line);
    const to = lines.endOf(line + LINES_AFTER_KEYWORD);
    const last = windows.at(-1);
    if (last && from <= last[1]) last[1] = Math.max(last[1], to);
    else windows.push([from, to]);
  }
  return windows;
}

/** The secret and its offset: the rule's group, else the first non-empty group, else the whole match (as gitleaks). */
function secretOf(m: RegExpExecArray, group: number): [string, number] {
  const indices = m.indices!;
  const pick = (g: number): [string, number] => [m[g], indices[g][0]];
  if (m.length > 1) {
    if (group > 0) return m[group] === undefined ? ['', 0] : pick(group);
    for (let g = 1; g < m.length; g++) if (m[g]) return pick(g);
  }
  // gitleaks trims newlines off a match that has no groups.
  const trimmed = m[0].replace(/^\n+/, '');
  return [trimmed.replace(/\n+$/, ''), m.index + (m[0].length - trimmed.length)];
}

function allowed(a: CompiledAllowlist, secret: string, match: string, line: () => string, path: string): boolean {
  const target = a.target === 'match' ? match : a.target === 'line' ? line() : secret;
  const regex = a.regexes.length > 0 && a.regexes.some((r) => r.test(target));
  const lowerSecret = secret.toLowerCase();
  const stopword = a.stopwords.length > 0 && a.stopwords.some((w) => lowerSecret.includes(w));
  if (!a.and) return regex || stopword;
  const checks: boolean[] = [];
  if (a.paths.length > 0) checks.push(a.paths.some((p) => p.test(path)));
  if (a.regexes.length > 0) checks.push(regex);
  if (a.stopwords.length > 0) checks.push(stopword);
  return checks.length > 0 && checks.every(Boolean);
}

/** Bits of Shannon entropy per character. */
export function shannonEntropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * Whether a chunk may hold one of the chunk-scoped findings: it contains the secret, or it lies within
 * the secret's lines (a piece of an over-long line cut by characters may hold only part of it).
 */
export function chunkHasSecret(chunk: { text: string; startLine: number; endLine: number }, findings: readonly SecretFinding[]): boolean {
  return findings.some(
    (f) => (f.secret.length > 0 && chunk.text.includes(f.secret)) || (chunk.startLine >= f.startLine && chunk.endLine <= f.endLine),
  );
}

/** Offsets to 1-based line numbers, built on first use. */
class LineIndex {
  private starts: number[] | undefined;
  constructor(private readonly source: string) {}

  lineOf(offset: number): number {
    const starts = (this.starts ??= lineStarts(this.source));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  /** Offset where 1-based `line` starts. */
  startOf(line: number): number {
    const starts = (this.starts ??= lineStarts(this.source));
    return starts[Math.min(line, starts.length) - 1];
  }

  /** Offset just past 1-based `line` (its newline included), or the text's end. */
  endOf(line: number): number {
    const starts = (this.starts ??= lineStarts(this.source));
    return line < starts.length ? starts[line] : this.source.length;
  }

  /** The whole lines that [from, to) touches. */
  text(from: number, to: number): string {
    const start = this.source.lastIndexOf('\n', from - 1) + 1;
    const end = this.source.indexOf('\n', Math.max(from, to - 1));
    return this.source.slice(start, end === -1 ? undefined : end);
  }
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}
