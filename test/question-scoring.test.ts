/**
 * The developer-question benchmark's judging rules (test/bench/question-scoring.ts), the definitions it
 * reads from real parses (test/bench/definitions.ts), and the shape of its committed data (issue 18,
 * item 2: 60+ questions, 4+ repositories, 3+ languages, a third sharing no word with the answers' names).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { enclosingDefinition, fileDefinitions } from './bench/definitions.js';
import {
  bestGrepLine,
  coversAnswer,
  grepOutput,
  questionWords,
  scoreHits,
  sharedWords,
  splitIdentifier,
  stem,
  summarize,
  wordsMatch,
  type Answer,
  type QuestionFile,
  type QuestionOutcome,
} from './bench/question-scoring.js';

const push: Answer = { path: 'src/flask/ctx.py', symbol: 'AppContext.push', start_line: 416, end_line: 444 };

describe('words shared between a question and an answer name', () => {
  it('splits qualified, camelCase, snake_case and acronym identifiers', () => {
    expect(splitIdentifier('AppContext.push')).toEqual(['app', 'context', 'push']);
    expect(splitIdentifier('SessionRedirectMixin.should_strip_auth')).toEqual(['session', 'redirect', 'mixin', 'should', 'strip', 'auth']);
    expect(splitIdentifier('HTTPAdapter.cert_verify')).toEqual(['http', 'adapter', 'cert', 'verify']);
    expect(splitIdentifier('Command.ExecuteC')).toEqual(['command', 'execute', 'c']);
    expect(questionWords('how does nextTick wait for the DOM update')).toEqual(['how', 'does', 'next', 'tick', 'wait', 'for', 'the', 'dom', 'update']);
  });

  it('matches inflections and abbreviations strictly: same stem, or one stem starting the other (3+ letters)', () => {
    expect(stem('pushed')).toBe('push');
    expect(stem('entries')).toBe('entry');
    expect(stem('class')).toBe('class');
    expect(wordsMatch('pushed', 'push')).toBe(true);
    expect(wordsMatch('application', 'app')).toBe(true);
    expect(wordsMatch('environment', 'env')).toBe(true);
    expect(wordsMatch('arguments', 'args')).toBe(true);
    expect(wordsMatch('signed', 'single')).toBe(false);
    expect(wordsMatch('padded', 'rpad')).toBe(false);
    expect(wordsMatch('regular', 'regex')).toBe(false);
  });

  it('counts the issue example as sharing words, and a question in other words as sharing none', () => {
    expect(sharedWords({ id: 'a', question: 'where is the request context pushed', answers: [push] })).toEqual(['context', 'pushed']);
    const run: Answer = { path: 'src/flask/app.py', symbol: 'Flask.run', start_line: 632, end_line: 753 };
    expect(sharedWords({ id: 'b', question: 'how does the development server start', answers: [run] })).toEqual([]);
    // Any answer's name counts: adding a second answer that shares a word makes the question share one.
    const runCommand: Answer = { path: 'src/flask/cli.py', symbol: 'run_command', start_line: 935, end_line: 993 };
    expect(sharedWords({ id: 'c', question: 'which command starts the development server', answers: [run, runCommand] })).toEqual(['command']);
  });
});

describe('judging a ranked list', () => {
  it('credits function@3 only when a top-3 hit holds the signature line, file@3 for any top-3 hit in the file', () => {
    const signature = { path: push.path, start_line: 410, end_line: 420 };
    const bodyOnly = { path: push.path, start_line: 430, end_line: 444 };
    const elsewhere = { path: 'src/flask/app.py', start_line: 1, end_line: 50 };
    expect(coversAnswer(signature, push)).toBe(true);
    expect(coversAnswer(bodyOnly, push)).toBe(false);
    expect(coversAnswer({ ...signature, path: 'src/other.py' }, push)).toBe(false);

    expect(scoreHits([elsewhere, signature], [push])).toEqual({ function_at_3: true, function_overlap_at_3: true, file_at_3: true, function_rank: 2 });
    expect(scoreHits([bodyOnly, elsewhere], [push])).toEqual({ function_at_3: false, function_overlap_at_3: true, file_at_3: true, function_rank: null });
    // Found, but only fourth: counts for the rank (MRR), not for @3.
    expect(scoreHits([elsewhere, elsewhere, elsewhere, signature], [push])).toEqual({
      function_at_3: false,
      function_overlap_at_3: false,
      file_at_3: false,
      function_rank: 4,
    });
  });

  it('summarizes rates, the no-shared-word subset, MRR and token means', () => {
    const outcome = (hit: boolean, shares: boolean, rank: number | null, tokens: number): QuestionOutcome => ({
      function_at_3: hit,
      function_overlap_at_3: hit,
      file_at_3: true,
      function_rank: rank,
      shares_word: shares,
      tokens_text: tokens,
      tokens_json: tokens * 2,
    });
    const summary = summarize([outcome(true, true, 1, 100), outcome(false, false, 5, 200), outcome(true, false, 2, 300), outcome(false, true, null, 400)]);
    expect(summary).toMatchObject({
      questions: 4,
      function_at_3: 0.5,
      file_at_3: 1,
      function_at_3_no_shared_word: 0.5,
      function_mrr: Math.round(((1 + 1 / 5 + 1 / 2) / 4) * 1000) / 1000,
      answer_tokens_text: 250,
      answer_tokens_json: 500,
      answer_tokens_json_max: 800,
    });
  });
});

describe('the grep baseline at function level', () => {
  const text = ['import os', '', 'def open_session(app):', '    """open a session"""', '    return load(app.session_cookie)', '', 'x = 1'].join('\n');

  it('picks the line whose matched words weigh most, the earliest of equals', () => {
    const idf = new Map([['session', 1.0], ['cookie', 2.0]]);
    expect(bestGrepLine(text, idf)).toBe(5);
    expect(bestGrepLine(text, new Map([['session', 1.0]]))).toBe(3);
    expect(bestGrepLine(text, new Map([['absent', 1.0]]))).toBeNull();
  });

  it('prints what rg -n -i -F -m N prints', () => {
    expect(grepOutput([{ path: 'a.py', text }], ['session'], 2)).toEqual(['a.py:3:def open_session(app):', 'a.py:4:    """open a session"""']);
  });

  it('turns a line into the definition enclosing it, with its signature line past stacked decorators', async () => {
    const source = [
      'import click',
      '',
      '@click.command("run")',
      '@click.option(',
      '    "--port",',
      ')',
      'def run_command(port):',
      '    serve(port)',
      '',
      'class Server:',
      '    """A server."""',
      '',
      '    def start(self):',
      '        return 1',
    ].join('\n');
    const defs = await fileDefinitions(source, 'python');
    const runCommand = defs.find((d) => d.symbol === 'run_command');
    expect(runCommand).toMatchObject({ line: 7, start: 3, end: 8 });
    expect(defs.find((d) => d.symbol === 'Server.start')).toMatchObject({ line: 13, end: 14 });
    expect(enclosingDefinition(defs, 8)?.symbol).toBe('run_command');
    expect(enclosingDefinition(defs, 14)?.symbol).toBe('Server.start');
    expect(enclosingDefinition(defs, 11)?.symbol).toBe('Server');
    expect(enclosingDefinition(defs, 1)).toBeUndefined();
  });
});

describe('the committed question data (test/bench/questions/)', () => {
  const dir = join(import.meta.dirname, 'bench', 'questions');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({ name: f, data: JSON.parse(readFileSync(join(dir, f), 'utf8')) as QuestionFile }));
  const questions = files.flatMap((f) => f.data.questions);

  it('holds 60+ questions over 4+ repositories in 3+ languages, each file pinned to a commit', () => {
    expect(questions.length).toBeGreaterThanOrEqual(60);
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(new Set(files.map((f) => f.data.language)).size).toBeGreaterThanOrEqual(3);
    for (const { name, data } of files) {
      expect(name).toBe(`${data.repository}.json`);
      expect(data.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(data.url).toMatch(/^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/);
      expect(data.url).not.toMatch(/codecarto/);
    }
  });

  it('holds questions and answers only: ids, plain-word questions, and definitions by path, symbol and lines', () => {
    expect(new Set(questions.map((q) => q.id)).size).toBe(questions.length);
    for (const q of questions) {
      expect(Object.keys(q).sort()).toEqual(['answers', 'id', 'question']);
      expect(q.question).toMatch(/^[a-z]/);
      expect(q.answers.length).toBeGreaterThan(0);
      for (const a of q.answers) {
        expect(Object.keys(a).sort()).toEqual(['end_line', 'path', 'start_line', 'symbol']);
        expect(a.start_line).toBeGreaterThan(0);
        expect(a.end_line).toBeGreaterThanOrEqual(a.start_line);
      }
    }
  });

  it('has at least a third of its questions share no word with their answers\' names', () => {
    const noShared = questions.filter((q) => sharedWords(q).length === 0);
    expect(noShared.length * 3).toBeGreaterThanOrEqual(questions.length);
  });
});
