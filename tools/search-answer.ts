/**
 * A search response as the agent receives it, sized for a context window: each hit's location and the
 * lines of its code that match the query, as many lines as `max_tokens` affords, in the text block and
 * in structuredContent alike (Claude Code shows the model the structuredContent JSON and drops the text;
 * other clients show the text: docs/answers.md). Token counts are estimated from characters
 * (indexer/search/token-estimate.ts); both views stay within the budget.
 */
import type { AnswerHit, SearchHit } from '../indexer/search/search-hit.js';
import { SnippetWindow } from '../indexer/search/snippet-window.js';
import { estimateTokens } from '../indexer/search/token-estimate.js';
import type { WorkspaceSearchResponse } from '../indexer/workspace/workspace.js';

export const SEARCH_DETAILS = ['locations', 'lines', 'full'] as const;
export type SearchDetail = (typeof SEARCH_DETAILS)[number];

/** Below this not even one result's location reliably fits, and an answer would only say to raise it. */
export const MIN_ANSWER_TOKENS = 200;
/** No answer is larger, whatever k and detail are (Claude Code cuts tool answers at 25,000). */
export const MAX_ANSWER_TOKENS = 20_000;
/** Default budget per result, for at least 10 results: a default search (k = 10, "lines") costs at most 1,200 tokens. */
export const TOKENS_PER_RESULT: Readonly<Record<SearchDetail, number>> = { locations: 100, lines: 120, full: 600 };
/** Most code lines a hit shows: "lines" is the signature, the matching lines and a little context. */
const LINES_PER_HIT: Readonly<Record<SearchDetail, number>> = { locations: 0, lines: 12, full: Number.POSITIVE_INFINITY };
/** Hits that grow two lines for every line of the others: an agent reads the top of the list first. */
const FAVOURED_HITS = 3;
/** Tokens a line of code is taken to cost when choosing how many lines to try adding at once (a guess; every step is priced). */
const TOKENS_PER_LINE_GUESS = 20;

export type SearchResponseForAnswer = Omit<WorkspaceSearchResponse, 'stale_complete'>;

export type StructuredAnswer = Omit<SearchResponseForAnswer, 'results'> & {
  results: AnswerHit[];
  /** Hits found but left out to stay within max_tokens. */
  results_omitted?: number;
};

export interface SearchAnswer {
  text: string;
  structured: StructuredAnswer;
  /** The budget both views were fitted to. */
  maxTokens: number;
}

export interface SearchAnswerOptions {
  detail?: SearchDetail;
  /** Cap on the answer's tokens, MIN_ANSWER_TOKENS..MAX_ANSWER_TOKENS; default TOKENS_PER_RESULT x max(k, 10). */
  maxTokens?: number;
  /** The k asked for (the default budget grows with it). */
  k: number;
  /** Notes for the text only (the structured content carries them as fields, e.g. stale_files). */
  textNotes?: readonly string[];
}

export function defaultMaxTokens(detail: SearchDetail, k: number): number {
  return Math.min(MAX_ANSWER_TOKENS, TOKENS_PER_RESULT[detail] * Math.max(k, 10));
}

/** Rank scores to 3 significant digits: more digits cost tokens and tell the agent nothing. */
export function roundScore(score: number): number {
  return Number.isFinite(score) ? Number(score.toPrecision(3)) : 0;
}

export function searchAnswer(query: string, response: SearchResponseForAnswer, options: SearchAnswerOptions): SearchAnswer {
  const detail = options.detail ?? 'lines';
  const budget = Math.min(MAX_ANSWER_TOKENS, Math.max(MIN_ANSWER_TOKENS, Math.floor(options.maxTokens ?? defaultMaxTokens(detail, options.k))));
  const { results: hits, ...rest } = response;
  const windows = hits.map((h) => (detail === 'locations' ? null : new SnippetWindow({ text: h.snippet, startLine: h.start_line, query, symbol: h.symbol })));
  const lineCap = windows.map((w) => (w ? Math.min(LINES_PER_HIT[detail], w.lineCount) : 0));
  let minLines: number = detail === 'locations' ? 0 : 1;
  const shape = (i: number, lines: number) => answerHit(hits[i], lines > 0 ? windows[i]!.render(lines) : undefined);
  const costOf = (i: number, lines: number) => {
    const hit = shape(i, lines);
    // Each hit adds its JSON object, and its text block and a separating blank line.
    return { json: hitJsonTokens(hit), text: estimateTokens(hitBlock(hit)) + 2 };
  };
  const baseCost = (omitted: number) => ({
    json: estimateTokens(JSON.stringify(structuredOf(rest, [], omitted))),
    text: estimateTokens(answerText(rest, [], detail, options.textNotes ?? [], omitted, budget)),
  });

  // How many hits fit at their smallest; the rest are left out and counted. The omitted count's digits
  // cost tokens too: price the line with the most it can say.
  let costs = hits.map((_, i) => costOf(i, minLines));
  const fit = () => {
    const all = fitCount(baseCost(0), costs, budget);
    return all < hits.length ? fitCount(baseCost(hits.length), costs, budget) : all;
  };
  let shown = fit();
  if (shown === 0 && hits.length > 0 && minLines > 0) {
    // Not even one signature line fits: the best hit's location is still an answer.
    minLines = 0;
    costs = hits.map((_, i) => costOf(i, 0));
    shown = fit();
  }
  const omitted = hits.length - shown;
  const base = baseCost(omitted);
  const total = { json: base.json, text: base.text };
  for (let i = 0; i < shown; i++) {
    total.json += costs[i].json;
    total.text += costs[i].text;
  }

  // Grow the windows, the top hits twice as fast, while both views fit. Steps start large when much of
  // the budget is left (a "full" answer can hold thousands of lines) and end at single lines.
  const lines = hits.map(() => minLines).slice(0, shown);
  const blocked = lines.map((n, i) => n >= lineCap[i]);
  while (blocked.some((b) => !b)) {
    const growing = blocked.filter((b) => !b).length;
    const step = Math.max(1, Math.floor((budget - Math.max(total.json, total.text)) / (TOKENS_PER_LINE_GUESS * growing)));
    for (let i = 0; i < shown; i++) {
      if (blocked[i]) continue;
      const want = Math.min(lineCap[i], lines[i] + step * (i < FAVOURED_HITS ? 2 : 1));
      let grown = false;
      for (const target of want > lines[i] + 1 ? [want, lines[i] + 1] : [want]) {
        const next = costOf(i, target);
        const json = total.json - costs[i].json + next.json;
        const text = total.text - costs[i].text + next.text;
        if (json > budget || text > budget) continue;
        total.json = json;
        total.text = text;
        costs[i] = next;
        lines[i] = target;
        grown = true;
        break;
      }
      if (!grown || lines[i] >= lineCap[i]) blocked[i] = true;
    }
  }

  // The sums are per part; check the whole and give back lines (then hits) in the rare case it is over.
  let shaped = lines.map((n, i) => shape(i, n));
  for (;;) {
    const structured = structuredOf(rest, shaped, hits.length - shaped.length);
    const text = answerText(rest, shaped, detail, options.textNotes ?? [], hits.length - shaped.length, budget);
    if ((answerJsonTokens(structured) <= budget && estimateTokens(text) <= budget) || shaped.length === 0) {
      return { text, structured, maxTokens: budget };
    }
    const widest = lines.reduce((best, n, i) => (n > minLines && (best < 0 || n >= lines[best]) ? i : best), -1);
    if (widest >= 0) {
      lines[widest] -= 1;
      shaped[widest] = shape(widest, lines[widest]);
    } else {
      lines.pop();
      shaped = shaped.slice(0, -1);
    }
  }
}

/**
 * Real Mistral tokens of a hit's JSON keys, quotes, colons and commas (31, measured on the benchmark's
 * answers), plus one for each value's boundary with them: the keys are fixed, so they are counted, not estimated.
 */
const HIT_FRAME_TOKENS = 40;

/** A hit's JSON (with its comma): the fixed frame plus each value's estimate. */
function hitJsonTokens(hit: AnswerHit): number {
  let tokens = HIT_FRAME_TOKENS;
  for (const value of Object.values(hit)) {
    tokens += estimateTokens(typeof value === 'string' ? JSON.stringify(value).slice(1, -1) : String(value));
  }
  return tokens;
}

/** The structured answer's JSON: the envelope estimated as it is, each hit as hitJsonTokens prices it. */
export function answerJsonTokens(structured: StructuredAnswer): number {
  const envelope = estimateTokens(JSON.stringify({ ...structured, results: [] }));
  return structured.results.reduce((sum, hit) => sum + hitJsonTokens(hit), envelope);
}

function fitCount(base: { json: number; text: number }, costs: { json: number; text: number }[], budget: number): number {
  let json = base.json;
  let text = base.text;
  for (let i = 0; i < costs.length; i++) {
    json += costs[i].json;
    text += costs[i].text;
    if (json > budget || text > budget) return i;
  }
  return costs.length;
}

function answerHit(hit: SearchHit, snippet: string | undefined): AnswerHit {
  return {
    path: hit.path,
    start_line: hit.start_line,
    end_line: hit.end_line,
    language: hit.language,
    symbol: hit.symbol,
    kind: hit.kind,
    score: roundScore(hit.score),
    ...(snippet !== undefined ? { snippet } : {}),
  };
}

function structuredOf(rest: Omit<SearchResponseForAnswer, 'results'>, results: AnswerHit[], omitted: number): StructuredAnswer {
  return { results, ...rest, ...(omitted > 0 ? { results_omitted: omitted } : {}) };
}

/** `path:start-end  symbol  (score)` and the snippet under it. */
function hitBlock(hit: AnswerHit): string {
  const head = `${hit.path}:${hit.start_line}-${hit.end_line}  ${hit.symbol ?? hit.kind}  (${hit.score})`;
  return hit.snippet === undefined ? head : `${head}\n${hit.snippet}`;
}

function answerText(
  response: Omit<SearchResponseForAnswer, 'results'>,
  hits: AnswerHit[],
  detail: SearchDetail,
  textNotes: readonly string[],
  omitted: number,
  budget: number,
): string {
  const lines: string[] = [];
  const notes = [response.note, ...textNotes].filter((n) => n !== undefined && n !== '');
  if (notes.length) lines.push(`Note: ${notes.join(' ')}`);
  if (response.partial) lines.push('Note: indexing is still running; results cover what is indexed so far.');
  if (hits.length === 0 && omitted === 0) return [...lines, `No results (${response.mode}).`].join('\n');
  const found = hits.length + omitted;
  lines.push(hits.length === found ? `${found} result${found === 1 ? '' : 's'} (${response.mode}):` : `${hits.length} of ${found} results (${response.mode}):`);
  if (hits.length) lines.push('', hits.map(hitBlock).join(detail === 'locations' ? '\n' : '\n\n'));
  if (omitted > 0) {
    const smaller = detail === 'locations' ? 'or lower k' : 'lower k, or use detail "locations"';
    lines.push('', `${omitted} more result${omitted === 1 ? '' : 's'} left out to stay within max_tokens ${budget}: raise max_tokens (up to ${MAX_ANSWER_TOKENS}), ${smaller}.`);
  }
  return lines.join('\n');
}
